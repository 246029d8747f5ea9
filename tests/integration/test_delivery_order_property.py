"""Property: however raw lines are spread over files and delivery days, whatever order the days are
ingested in and whatever files are re-delivered later, the accepted usage per (tenant, meter, month)
is what "first delivered wins" says, and re-ingesting changes nothing.

The expected numbers come from the shared SPEC 2 oracle (`tests/oracle/spec2_recount.py`, no code
shared with the pipeline): it reads every copy of every item, quarantines what cannot be used,
orders the usable copies of one key by (delivery date, file name bytes, line, position in the
line) and lets the first one count.

Each example runs dbt once (~5 s), so there are few examples and no shrinking; a failing plan is
printed in full by `note()`.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st
from meterline_harness import Home, ingest_audit, monthly_usage, otlp_span_id, otlp_trace_id
from oracle.spec2_recount import recount

# property: one dbt run per Hypothesis example (make test-slow)
pytestmark = pytest.mark.slow

DAYS = [date(2026, 10, 30) + timedelta(days=i) for i in range(5)]
# byte order: "B.jsonl" < "a-1.jsonl.gz" < "a.jsonl" ("-" is 0x2d, "." 0x2e, "B" 0x42, "a" 0x61)
NAMES = ["B.jsonl", "a-1.jsonl.gz", "a.jsonl"]
RESEND_NAMES = ["same", "0-resend.jsonl", "zz-resend.jsonl"]


def line(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def nanos(iso: str) -> str:
    return str(int(datetime.fromisoformat(iso).timestamp()) * 10**9)


def seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def attrs(**values: Any) -> list[dict]:
    out = []
    for key, value in values.items():
        kind = "intValue" if isinstance(value, int) else "stringValue"
        out.append({"key": key.replace("__", "."), "value": {kind: str(value)}})
    return out


def export(tenant: str, *spans: dict) -> dict:
    return {
        "resourceSpans": [
            {"resource": {"attributes": attrs(tenant__id=tenant)}, "scopeSpans": [{"spans": [s]}]}
            for s in spans
        ]
    }


def otel_span(trace: str, span_id: str, start: str, parent: str | None, status: int | None, **a):
    # readable test ids made valid OTLP ids (SPEC 2.3: hex or base64, else malformed_json)
    doc: dict[str, Any] = {"traceId": otlp_trace_id(trace), "spanId": otlp_span_id(span_id)}
    if parent is not None:
        doc["parentSpanId"] = otlp_span_id(parent) if parent else parent
    doc.update(name="chat", startTimeUnixNano=nanos(start), endTimeUnixNano=nanos(start))
    if status is not None:
        doc["status"] = {"code": status}
    doc["attributes"] = attrs(**a)
    return doc


def reordered(doc: dict) -> dict:
    return dict(reversed(list(doc.items())))


def tokens(i: int, o: int) -> dict[str, int]:
    return {"gen_ai__usage__input_tokens": i, "gen_ai__usage__output_tokens": o}


# fmt: off
E1 = {"id": "pe-1", "business_id": "acme", "event_type": "api_call", "quantity": 2,
      "created_at": "2026-10-31T23:30:00Z"}
E1_OTHER_MONTH = {**E1, "business_id": "globex", "event_type": "AI_QUERY", "quantity": 1,
                  "created_at": "2026-11-01T00:10:00Z"}
E2 = {"id": "pe-2", "business_id": "acme", "event_type": "storage_mb", "quantity": "0.25",
      "created_at": seconds("2026-11-01T12:00:00+00:00") * 1000}
E2_BAD = {**E2, "quantity": -1, "created_at": "2026-10-31T12:00:00Z"}
E4 = {"id": "pe-4", "business_id": "globex", "event_type": "API_CALL", "quantity": 1,
      "created_at": "2026-11-01 00:00:00"}
KEYLESS = {"business_id": "globex", "event_type": " Voice_Minute ", "quantity": 1.5,
           "created_at": "2026-11-01T00:30:00+01:00"}
U1 = {"requestId": "pr-1", "tenantId": "acme", "model": "m", "tokensIn": 100, "tokensOut": 10,
      "toolInvocations": {"search": 2},
      "createdAt": {"_seconds": seconds("2026-10-31T22:00:00+00:00"), "_nanoseconds": 0}}
U1_CONFLICT = {**U1, "tenantId": "globex", "tokensOut": 999, "toolInvocations": {},
               "createdAt": "2026-11-01T01:00:00.000Z"}
U2 = {"tenantId": "globex", "model": "m", "tokensIn": "5", "tokensOut": 6,
      "createdAt": {"seconds": seconds("2026-10-31T20:00:00+00:00"), "nanos": 0}}
T1_OK = export("acme",
               otel_span("pt-1", "r", "2026-10-31T23:00:00Z", "", 1),
               otel_span("pt-1", "c", "2026-10-31T23:00:01Z", "r", None, **tokens(10, 1)))
T1_FAILED = export("acme",  # the same two spans: a failed root and other tokens (2 conflicts)
                   otel_span("pt-1", "r", "2026-10-31T23:00:00Z", "", 2),
                   otel_span("pt-1", "c", "2026-10-31T23:00:01Z", "r", None, **tokens(10, 50)))
T2_CHILD = export("globex", otel_span("pt-2", "c", "2026-10-31T23:50:00Z", "r", 1, **tokens(3, 3)))
T2_ROOT = export("globex", otel_span("pt-2", "r", "2026-11-01T00:05:00Z", None, None))
T3_TWICE = export("acme",  # one line, the same ids twice: position 0 wins over position 1
                  otel_span("pt-3", "r", "2026-10-31T12:00:00Z", None, 1, **tokens(1, 2)),
                  otel_span("pt-3", "r", "2026-10-31T12:00:00Z", None, 1, **tokens(1, 7)))
STEP_A = {"operationId": "op-a", "usageType": "ApiUsage", "cost": 0.01,
          "timestamp": "2026-10-31T23:59:30.000Z"}
STEP_B = {"operationId": "op-b", "usageType": "aiusage", "cost": 0.02}  # no timestamp
STEP_C = {"operationId": "op-c", "usageType": "AiUsage", "cost": 0.03,
          "timestamp": "2026-11-01T00:00:05Z"}
SESSION = {"sessionId": "ps-1", "tenantId": "acme", "createdAt": "2026-10-31T23:59:00Z"}
S1_IN_PROGRESS = {**SESSION, "status": "in_progress", "steps": [STEP_A, STEP_B]}
# re-export: op-a with other key order (duplicate), op-b as APIUsage (conflict), op-c new
S1_COMPLETED = {**SESSION, "status": "completed",
                "steps": [reordered(STEP_A), {**STEP_B, "usageType": "APIUsage"}, STEP_C]}

# (source, line). Lines at or after 2026-11-01T00:00Z are future_timestamp when delivered on
# 2026-10-30, so whether such a copy claims its key depends on where the plan puts it.
POOL: list[tuple[str, str]] = [
    ("events", line(E1)),
    ("events", " " + json.dumps(reordered(E1)) + " "),  # same canonical JSON: duplicate
    ("events", line({**E1, "quantity": 5})),  # conflict
    ("events", line(E1_OTHER_MONTH)),  # conflict in another tenant, meter and month
    ("events", line(E2)),  # epoch millis
    ("events", line(E2_BAD)),  # bad_quantity: never claims pe-2
    ("events", line(KEYLESS)),
    ("events", json.dumps(reordered(KEYLESS))),  # the same keyless item (same content key)
    ("events", line(E4)),
    ("usage_logs", line(U1)),
    ("usage_logs", line(U1_CONFLICT)),
    ("usage_logs", line(U2)),
    ("usage_logs", line(U2)),  # keyless, twice
    ("traces", line(T1_OK)),
    ("traces", line(T1_FAILED)),
    ("traces", line(T2_CHILD)),
    ("traces", line(T2_ROOT)),
    ("traces", line(T3_TWICE)),
    ("sessions", line(S1_IN_PROGRESS)),
    ("sessions", line(S1_COMPLETED)),
]
# fmt: on


# ---------------------------------------------------------------------------------------------
# the reference (SPEC 2, independently of the pipeline)


def reference(files: dict[tuple[str, date, str], list[str]]):
    """(usage per (month, tenant, meter), audit per file) that SPEC 2.5 expects: the shared
    oracle (tests/oracle/spec2_recount.py) reading the plan's files from a landing zone of its
    own."""
    with tempfile.TemporaryDirectory(prefix="meterline-reference-") as tmp:
        landing = Home(Path(tmp))
        for (source, day, name), lines in files.items():
            landing.deliver(source, day, name, lines, gz=name.endswith(".gz"))
        counted = recount(landing.root)
    usage = {
        (f"{month}-01", tenant, meter): quantity
        for (tenant, month, meter), quantity in counted.usage.items()
    }
    audit = {
        file: (
            counts.lines_read,
            counts.items_read,
            counts.accepted,
            counts.duplicates,
            counts.conflicts,
            counts.quarantined,
        )
        for file, counts in counted.files.items()
    }
    return usage, audit


# ---------------------------------------------------------------------------------------------
# plans


@dataclass(frozen=True)
class Plan:
    placement: tuple[tuple[int, str], ...]  # per pool line: (delivery day index, file name)
    line_order: tuple[int, ...]  # the pool lines in the order they are written into their files
    resends: tuple[tuple[int, int, str], ...]  # (file pick, days later, name or "same")
    ingest_order: tuple[int, ...]  # the delivery days, in the order they are ingested


@st.composite
def plans(draw) -> Plan:
    placement = tuple(
        (draw(st.integers(0, len(DAYS) - 1)), draw(st.sampled_from(NAMES))) for _ in POOL
    )
    return Plan(
        placement=placement,
        line_order=tuple(draw(st.permutations(range(len(POOL))))),
        resends=tuple(
            draw(
                st.lists(
                    st.tuples(st.integers(0, 50), st.integers(1, 2), st.sampled_from(RESEND_NAMES)),
                    max_size=3,
                )
            )
        ),
        ingest_order=tuple(draw(st.permutations(range(len(DAYS))))),
    )


def files_of(plan: Plan) -> dict[tuple[str, date, str], list[str]]:
    files: dict[tuple[str, date, str], list[str]] = defaultdict(list)
    for index in plan.line_order:
        source, text = POOL[index]
        day, name = plan.placement[index]
        files[(source, DAYS[day], name)].append(text)
    originals = sorted(files)
    for pick, later, name in plan.resends:
        source, day, original = originals[pick % len(originals)]
        new_day = day + timedelta(days=later)
        if new_day > DAYS[-1]:
            continue
        if name == "same":
            name = original
        elif original.endswith(".gz"):
            name += ".gz"
        if (source, new_day, name) not in files:
            files[(source, new_day, name)] = list(files[(source, day, original)])
    return dict(files)


# Every conflict's later copy is delivered on an earlier-ingested day, and 10-30 holds copies that
# are quarantined as future there but fine elsewhere.
ADVERSARIAL = Plan(
    placement=(
        (1, "a.jsonl"), (3, "B.jsonl"), (1, "B.jsonl"), (0, "a.jsonl"), (0, "B.jsonl"),
        (2, "a.jsonl"), (2, "a-1.jsonl.gz"), (2, "a.jsonl"), (0, "a-1.jsonl.gz"),
        (2, "a.jsonl"), (1, "a.jsonl"), (1, "a-1.jsonl.gz"), (1, "a-1.jsonl.gz"),
        (3, "a.jsonl"), (2, "a.jsonl"), (0, "B.jsonl"), (0, "a.jsonl"), (1, "B.jsonl"),
        (2, "a.jsonl"), (1, "a.jsonl"),
    ),
    line_order=tuple(reversed(range(len(POOL)))),
    resends=((0, 1, "same"), (5, 2, "0-resend.jsonl"), (9, 1, "zz-resend.jsonl")),
    ingest_order=(4, 3, 2, 1, 0),
)  # fmt: skip


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(plan=ADVERSARIAL)
@given(plan=plans())
def test_first_delivered_wins_whatever_the_files_days_ingest_order_and_resends(plan: Plan):
    files = files_of(plan)
    note(f"plan: {plan}")
    note("files:\n" + "\n".join(f"{k}: {v}" for k, v in sorted(files.items())))
    expected_usage, expected_audit = reference(files)

    with tempfile.TemporaryDirectory(prefix="meterline-prop-") as tmp:
        home = Home(Path(tmp))
        for (source, day, name), lines in files.items():
            home.deliver(source, day, name, lines, gz=name.endswith(".gz"))
        for index in plan.ingest_order:
            home.ingest(DAYS[index])
        home.dbt_run()

        assert monthly_usage(home) == expected_usage
        assert ingest_audit(home) == expected_audit

        # re-ingesting every day (in the opposite order) reads nothing again, bronze is unchanged
        bronze = home.bronze_digest()
        again = home.ingest(*(DAYS[i] for i in reversed(plan.ingest_order)))
        assert len(again) == len(files)
        assert all(audit.skipped for audit in again)
        assert home.bronze_digest() == bronze
