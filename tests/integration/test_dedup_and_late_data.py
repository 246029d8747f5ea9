"""SPEC 2.5 dedup, late data, trace assembly and provider cost, end to end through bronze and dbt.

One hand-built home (one tenant per trap, so each trap is read back on its own) is delivered on
three days and ingested in two stages, with a `dbt run` after each:

- stage 1 ingests 2026-11-03 FIRST, then 2026-11-01;
- stage 2 ingests 2026-11-02 (the day in between), so a copy delivered on 11-02 arrives in bronze
  after the 11-03 copy of the same key was already counted in stage 1.

Every number below is worked by hand from SPEC 2 (not read back from the pipeline).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import CATALOG_METERS
from meterline_harness import (
    Home,
    compact,
    epoch_seconds,
    ingest_audit,
    monthly_usage,
    otlp_export,
    readable_id,
    span,
)

D1, D2, D3 = "2026-11-01", "2026-11-02", "2026-11-03"
OCT, NOV = "2026-10-01", "2026-11-01"

# A catalog with three effective dates for one model: the price in force on a record's UTC day is
# the latest effective_from on or before it (2026-10-31 -> 1/2 USD per M, 2026-11-01 -> 10/20).
CATALOG = (
    """\
currency: USD
"""
    + CATALOG_METERS
    + """\
model_prices:
  - {model: test-model, input_per_million: "100.00", output_per_million: "200.00", effective_from: 2026-01-01}
  - {model: test-model, input_per_million: "10.00", output_per_million: "20.00", effective_from: 2026-11-01}
  - {model: test-model, input_per_million: "1.00", output_per_million: "2.00", effective_from: 2026-10-01}
plans: {}
"""
)


def event(key: str | None, tenant: str, meter: str, quantity: Any, at: Any, **extra: Any) -> dict:
    doc: dict[str, Any] = {} if key is None else {"id": key}
    doc.update(business_id=tenant, event_type=meter, quantity=quantity, **extra, created_at=at)
    return doc


# ---------------------------------------------------------------------------------------------
# events

REDELIVERED = compact(event("ev-redeliver", "t-redeliver", "api_call", 3, "2026-11-01T09:00:00Z"))
KEYLESS_EVENT = compact(event(None, "t-keyless", "ai_query", 2, "2026-11-01T08:00:00Z"))
KEY_ORDER = compact(
    event(
        "ev-keyorder", "t-keyorder", "voice_minute", 1.5, "2026-11-01T06:30:00Z",
        metadata={"a": 1, "b": [1, 2]},
    )
)  # fmt: skip
# the same item with other key order (also inside metadata) and other white space
KEY_ORDER_REORDERED = (
    '{ "created_at" : "2026-11-01T06:30:00Z", "metadata": {"b": [1,  2], "a": 1},  '
    '"quantity": 1.5, "event_type": "voice_minute", "business_id": "t-keyorder", "id": "ev-keyorder" }'
)

# B.jsonl sorts before a.jsonl (0x42 < 0x61): its copies are delivered first.
# lines_read 10, items 8 (lines 7-8 are blank), quarantined 1 (line 6), accepted 6 (1-5, 9),
# conflicts 1 (line 10 repeats line 9's id: line 9 < line 10 as numbers, not as text)
EVENTS_D1_B = [
    event("ev-order-1", "t-order", "api_call", 1, "2026-11-01T10:00:00Z"),  # 1 accepted
    REDELIVERED,  # 2 accepted
    KEYLESS_EVENT,  # 3 accepted (keyed by the SHA-256 of its canonical JSON)
    KEY_ORDER,  # 4 accepted
    event("ev-conflict-a", "t-conflict", "api_call", 5, "2026-11-01T07:00:00Z"),  # 5 accepted
    '{"id": "ev-broken", "business_id": "t-order"',  # 6 malformed_json
    "",  # 7 blank: a line, not an item
    "   ",  # 8 blank
    event("ev-lineorder", "t-lineorder", "api_call", 1, "2026-11-01T05:00:00Z"),  # 9 accepted
    event("ev-lineorder", "t-lineorder", "api_call", 100, "2026-11-01T05:00:00Z"),  # 10 conflict
]
# lines 3, items 3: accepted 0, duplicates 1, conflicts 1, quarantined 1
EVENTS_D1_A = [
    event("ev-order-1", "t-order", "api_call", 7, "2026-11-01T10:00:00Z"),  # 1 conflict (B won)
    KEY_ORDER_REORDERED,  # 2 duplicate (same canonical JSON as B line 4)
    event("ev-fixed", "t-fixed", "api_call", -1, "2026-11-01T06:00:00Z"),  # 3 bad_quantity
]
# "z.jsonl" < "é.jsonl" in byte order (0x7a < 0xc3): 1 line each, z accepted, é conflict
EVENTS_D1_Z = [event("ev-order-2", "t-order2", "api_call", 1, "2026-11-01T04:00:00Z")]
EVENTS_D1_E_ACUTE = [event("ev-order-2", "t-order2", "api_call", 9, "2026-11-01T04:00:00Z")]
# lines 2, items 2, accepted 2
EVENTS_D2 = [
    # first delivered copy of ev-conflict-x, but ingested (stage 2) after its 11-03 copy
    event("ev-conflict-x", "t-conflict2", "api_call", 2, "2026-11-02T01:00:00Z"),
    # total_cost_cents is what the app displayed: not provider cost
    event(
        "ev-cost", "t-cost", "api_call", 1, "2026-11-01T02:00:00Z",
        unit_price_cents=500, total_cost_cents=500,
    ),
]  # fmt: skip
# lines 8, items 8: accepted 4 (1, 6, 7, 8), duplicates 2 (2, 3), conflicts 2 (4, 5);
# after stage 1 (11-02 not ingested yet) line 5 is the only copy of its key: accepted 5, conflicts 1
EVENTS_D3 = [
    event("ev-late", "t-late", "api_call", 4, "2026-10-31T23:59:59Z"),  # 1 late data: October
    REDELIVERED,  # 2 exact re-delivery -> duplicate
    KEYLESS_EVENT,  # 3 keyless, delivered again -> duplicate
    event("ev-conflict-a", "t-conflict", "api_call", 50, "2026-11-01T07:00:00Z"),  # 4 conflict
    event("ev-conflict-x", "t-conflict2", "api_call", 20, "2026-11-02T01:00:00Z"),  # 5 conflict
    event("ev-offset", "t-late", "api_call", 1, "2026-11-01T00:30:00+01:00"),  # 6 = 10-31 23:30Z
    event("ev-nov", "t-late", "api_call", 10, "2026-11-01T00:00:00Z"),  # 7 first instant of Nov
    event("ev-fixed", "t-fixed", "api_call", 1, "2026-11-01T06:00:00Z"),  # 8 the fixed copy
]

# ---------------------------------------------------------------------------------------------
# usage_logs


def request(key: str | None, tenant: str, tokens_in: int, tokens_out: int, at: Any, **extra):
    doc: dict[str, Any] = {} if key is None else {"requestId": key}
    doc.update(tenantId=tenant, userId="u1", assistant="helper", model="test-model")
    doc.update(tokensIn=tokens_in, tokensOut=tokens_out, **extra, createdAt=at)
    return doc


KEYLESS_REQUEST = compact(
    request(
        None, "t-keyless", 10, 20, "2026-11-01T08:00:00Z",
        costCents="1", toolInvocations={"search": 2},
    )
)  # fmt: skip
# lines 4, items 4, accepted 4
USAGE_LOGS_D1 = [
    # costCents 12.5 -> 0.125 USD (not the model price)
    request("req-cents", "t-cost", 1000, 500, "2026-10-31T12:00:00Z", costCents=12.5),
    # no cost: 2026-11-01T00:30+01:00 is 2026-10-31 23:30 UTC -> October price (1 / 2 per M):
    # 2000 * 1/1e6 + 1000 * 2/1e6 = 0.004
    request("req-oct", "t-cost", 2000, 1000, "2026-11-01T00:30:00+01:00"),
    # no cost, 2026-11-01 01:00 UTC -> November price (10 / 20 per M): 0.02 + 0.02 = 0.04
    request(
        "req-nov", "t-cost", 2000, 1000,
        {"_seconds": epoch_seconds("2026-11-01T01:00:00+00:00"), "_nanoseconds": 0},
    ),
    KEYLESS_REQUEST,  # costCents "1" -> 0.01 USD, tool_calls 2
]  # fmt: skip
USAGE_LOGS_D3 = [KEYLESS_REQUEST]  # lines 1, items 1: duplicate

# ---------------------------------------------------------------------------------------------
# traces (tenant on the resource unless given on the span)

T = "2026-11-01T"
# line 1: tr-split root + first child; tr-rootlate's two children (its root comes on 11-02)
TRACES_D1_L1 = otlp_export(
    (
        {"tenant.id": "t-split"},
        [
            span("tr-split", "root", T + "09:00:00Z", parent="", name="invoke_agent", status=1),
            span("tr-split", "c1", T + "09:00:01Z", parent="root", op="chat", tokens=(100, 10)),
        ],
    ),
    (
        {"tenant.id": "t-rootlate"},
        [
            span("tr-rootlate", "c1", T + "11:00:01Z", parent="root", op="chat", tokens=(50, 5)),
            span("tr-rootlate", "c2", T + "11:00:02Z", parent="root", op="execute_tool"),
        ],
    ),
)
# line 2: a failed trace (root status 2; its child's tokens still count) and an orphan child
TRACES_D1_L2 = otlp_export(
    (
        {"tenant.id": "t-failed"},
        [
            span("tr-failed", "root", T + "12:00:00Z", name="invoke_agent", status=2),
            span("tr-failed", "c1", T + "12:00:01Z", parent="root", status=2, tokens=(30, 3)),
        ],
    ),
    (
        {"tenant.id": "t-orphan"},
        [span("tr-orphan", "c1", T + "13:00:00Z", parent="never-sent", tokens=(7, 1))],
    ),
)
# line 3: the same traceId+spanId twice in one line, at positions 1 (A) and 5 (B). B is the first
# span of its resourceSpans entry, A the second of its own: only the position in the whole line
# says A comes first. Between them, tr-cost / tr-cost-nov with their tenant on every span under a
# `platform-gateway` resource (the span's tenant wins).
POS_A = span("tr-pos", "root", T + "14:00:00Z", status=1, tokens=(2, 11))
POS_B = span("tr-pos", "root", T + "14:00:00Z", status=1, tokens=(2, 99))
TRACES_D1_L3 = otlp_export(
    (
        {"tenant.id": "t-pos"},
        [span("tr-pos", "c1", T + "14:00:01Z", parent="root", tokens=(1, 1)), POS_A],
    ),
    (
        {"tenant.id": "platform-gateway"},
        [
            # gen_ai.usage.cost 0.5 wins over the model price (which would be 0.001 + 0.002)
            span(
                "tr-cost", "root", "2026-10-31T10:00:00Z", status=1, tenant="t-cost",
                model="test-model", tokens=(1000, 1000), cost=0.5,
            ),
            # no cost: October price on its start day: 1000 * 1/1e6 + 1000 * 2/1e6 = 0.003
            span(
                "tr-cost", "c1", "2026-10-31T10:00:01Z", parent="root", tenant="t-cost",
                model="test-model", tokens=(1000, 1000),
            ),
            # no cost, November price: 1000 * 10/1e6 + 1000 * 20/1e6 = 0.03; status unset = billable
            span(
                "tr-cost-nov", "root", "2026-11-01T05:00:00Z", tenant="t-cost",
                model="test-model", tokens=(1000, 1000),
            ),
        ],
    ),
    ({"tenant.id": "t-pos"}, [POS_B]),
)  # fmt: skip
# lines 4, items 14 (4 + 3 + 6 + 1): accepted 12, conflicts 1 (POS_B), quarantined 1 (line 4)
TRACES_D1 = [TRACES_D1_L1, TRACES_D1_L2, TRACES_D1_L3, '"collector restarted"']
# lines 1, items 2, accepted 2: tr-rootlate's root and tr-split's last child
TRACES_D2 = [
    otlp_export(
        ({"tenant.id": "t-rootlate"}, [span("tr-rootlate", "root", T + "11:00:00Z", status=1)]),
        ({"tenant.id": "t-split"}, [span("tr-split", "c2", T + "09:00:05Z", parent="root", tokens=(200, 20))]),
    )
]  # fmt: skip

# ---------------------------------------------------------------------------------------------
# sessions: one session exported in progress (2 steps), then completed (3 steps)

STEP_1 = {
    "operationId": "op-1", "usageType": "ApiUsage", "feature": "maps", "provider": "google",
    "cost": 0.001, "isBillableRun": False, "timestamp": "2026-11-01T10:00:01.000Z",
    "metadata": {"resultCount": 5},
}  # fmt: skip
STEP_2 = {
    "operationId": "op-2", "usageType": "aiusage", "feature": "reply", "provider": "llm",
    "cost": 0.01, "isBillableRun": True, "timestamp": "2026-11-01T10:00:02.000Z",
}  # fmt: skip
STEP_2_REORDERED = dict(reversed(list(STEP_2.items())))
# no timestamp at all: the session's createdAt (2026-11-01T10:00:00Z) is its time
STEP_3 = {"operationId": "op-3", "usageType": "APIUsage", "feature": "maps", "cost": 0.002}
SESSION = {
    "sessionId": "s-grow", "tenantId": "t-session", "userId": "u1", "feature": "assistant",
    "createdAt": "2026-11-01T10:00:00.000Z",
}  # fmt: skip
# lines 1, items 2, accepted 2
SESSIONS_D1 = [{**SESSION, "status": "in_progress", "steps": [STEP_1, STEP_2]}]
# lines 1, items 3: op-1 (identical) and op-2 (other key order) duplicates, op-3 accepted
SESSIONS_D2 = [{**SESSION, "status": "completed", "steps": [STEP_1, STEP_2_REORDERED, STEP_3]}]


# ---------------------------------------------------------------------------------------------
# the hand-worked outcome


def expected_monthly(stage: int) -> dict[tuple[str, str, str], Decimal]:
    d = Decimal
    usage = {
        (NOV, "t-order", "api_call"): d(1),  # B.jsonl line 1, not a.jsonl's 7
        (NOV, "t-order2", "api_call"): d(1),  # z.jsonl, not é.jsonl's 9
        (NOV, "t-redeliver", "api_call"): d(3),  # once, not 6
        (NOV, "t-keyless", "ai_query"): d(2),
        (NOV, "t-keyless", "llm_input_tokens"): d(10),
        (NOV, "t-keyless", "llm_output_tokens"): d(20),
        (NOV, "t-keyless", "tool_calls"): d(2),
        (NOV, "t-keyorder", "voice_minute"): d("1.5"),
        (NOV, "t-conflict", "api_call"): d(5),  # 11-01 copy, not the 11-03 one (ingested first)
        (NOV, "t-lineorder", "api_call"): d(1),  # line 9, not line 10
        (NOV, "t-conflict2", "api_call"): d(2) if stage == 2 else d(20),
        (NOV, "t-fixed", "api_call"): d(1),  # the quarantined copy never claimed the key
        (OCT, "t-late", "api_call"): d(5),  # 4 (23:59:59Z) + 1 (00:30+01:00)
        (NOV, "t-late", "api_call"): d(10),  # 00:00:00Z belongs to November
        # usage_logs 1000 + 2000 and spans 1000 + 1000 on 10-31; 2000 and 1000 on 11-01
        (OCT, "t-cost", "llm_input_tokens"): d(5000),
        (OCT, "t-cost", "llm_output_tokens"): d(3500),
        (OCT, "t-cost", "traces"): d(1),
        (NOV, "t-cost", "llm_input_tokens"): d(3000),
        (NOV, "t-cost", "llm_output_tokens"): d(2000),
        (NOV, "t-cost", "traces"): d(1),
        (NOV, "t-split", "llm_input_tokens"): d(300) if stage == 2 else d(100),
        (NOV, "t-split", "llm_output_tokens"): d(30) if stage == 2 else d(10),
        (NOV, "t-split", "traces"): d(1),
        (NOV, "t-rootlate", "llm_input_tokens"): d(50),
        (NOV, "t-rootlate", "llm_output_tokens"): d(5),
        (NOV, "t-failed", "llm_input_tokens"): d(30),
        (NOV, "t-failed", "llm_output_tokens"): d(3),
        (NOV, "t-orphan", "llm_input_tokens"): d(7),
        (NOV, "t-orphan", "llm_output_tokens"): d(1),
        (NOV, "t-pos", "llm_input_tokens"): d(3),  # 1 + 2
        (NOV, "t-pos", "llm_output_tokens"): d(12),  # 1 + 11 (copy A), not 1 + 99
        (NOV, "t-pos", "traces"): d(1),
        # op-1 once (ApiUsage) + op-3 (APIUsage, in the 11-02 re-export only)
        (NOV, "t-session", "api_call"): d(2) if stage == 2 else d(1),
        (NOV, "t-session", "ai_query"): d(1),  # op-2 (aiusage)
    }
    if stage == 2:  # 11-02: tr-rootlate's root and ev-cost
        usage[(NOV, "t-rootlate", "traces")] = d(1)
        usage[(NOV, "t-cost", "api_call")] = d(1)
    return usage


def expected_audit(stage: int) -> dict[str, tuple[int, ...]]:
    """(lines_read, items_read, accepted, duplicates, conflicts, quarantined) per file."""
    audit = {
        f"events/{D1}/B.jsonl": (10, 8, 6, 0, 1, 1),
        f"events/{D1}/a.jsonl": (3, 3, 0, 1, 1, 1),
        f"events/{D1}/z.jsonl": (1, 1, 1, 0, 0, 0),
        f"events/{D1}/é.jsonl": (1, 1, 0, 0, 1, 0),
        f"events/{D3}/late.jsonl": (8, 8, 4, 2, 2, 0) if stage == 2 else (8, 8, 5, 2, 1, 0),
        f"usage_logs/{D1}/logs.jsonl": (4, 4, 4, 0, 0, 0),
        f"usage_logs/{D3}/logs.jsonl": (1, 1, 0, 1, 0, 0),
        f"traces/{D1}/spans.jsonl": (4, 14, 12, 0, 1, 1),
        f"sessions/{D1}/sessions.jsonl": (1, 2, 2, 0, 0, 0),
    }
    if stage == 2:
        audit |= {
            f"events/{D2}/e.jsonl": (2, 2, 2, 0, 0, 0),
            f"traces/{D2}/spans.jsonl": (1, 2, 2, 0, 0, 0),
            # op-1 identical, op-2 with other key order: both duplicates; op-3 accepted
            f"sessions/{D2}/sessions.jsonl": (1, 3, 1, 2, 0, 0),
        }
    return audit


# ---------------------------------------------------------------------------------------------
# building the home: two stages, a dbt run after each


def snapshot(home: Home) -> dict[str, Any]:
    return {
        "monthly": monthly_usage(home),
        "daily": {
            (str(day), tenant, meter): qty
            for day, tenant, meter, qty in home.query(
                "SELECT usage_date, tenant_id, meter, quantity FROM tenant_daily_usage"
            )
        },
        # trace ids read back as the names the spans were built with (meterline_harness.span)
        "traces": {
            readable_id(r["trace_id"]): r
            for r in home.rows(
                "SELECT trace_id, tenant_id, status, span_count, is_billable, input_tokens, "
                "output_tokens, cost_usd FROM fct_trace_sessions"
            )
        },
        "records": [
            r | {"record_key": readable_id(r["record_key"])}
            for r in home.rows(
                "SELECT record_key, source, tenant_id, meter, quantity, cost_usd, source_cost_usd,"
                " strftime(event_time, '%Y-%m-%dT%H:%M:%S') AS event_time_utc"
                " FROM fct_usage_records"
            )
        ],
        "audit": ingest_audit(home),
        "cost": {
            (str(day), source, tenant): cost
            for day, source, tenant, cost in home.query(
                "SELECT usage_date, source, tenant_id, cost_usd FROM platform_daily_cost"
            )
        },
        "quarantine": sorted(
            home.query("SELECT source, file, line_number, item_position, reason FROM quarantine")
        ),
    }


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    home = Home(tmp_path_factory.mktemp("dedup-home"))
    home.deliver("events", D1, "B.jsonl", EVENTS_D1_B)
    home.deliver("events", D1, "a.jsonl", EVENTS_D1_A)
    home.deliver("events", D1, "z.jsonl", EVENTS_D1_Z)
    home.deliver("events", D1, "é.jsonl", EVENTS_D1_E_ACUTE)
    home.deliver("events", D2, "e.jsonl", EVENTS_D2)
    home.deliver("events", D3, "late.jsonl", EVENTS_D3)
    home.deliver("usage_logs", D1, "logs.jsonl", USAGE_LOGS_D1)
    home.deliver("usage_logs", D3, "logs.jsonl", USAGE_LOGS_D3)
    home.deliver("traces", D1, "spans.jsonl", TRACES_D1)
    home.deliver("traces", D2, "spans.jsonl", TRACES_D2)
    home.deliver("sessions", D1, "sessions.jsonl", SESSIONS_D1)
    home.deliver("sessions", D2, "sessions.jsonl", SESSIONS_D2)
    home.write_catalog(CATALOG)

    stage_1 = home.ingest(D3, D1)  # the later delivery is ingested first
    assert {a.file for a in stage_1} == set(expected_audit(1))
    home.dbt_run()
    first = snapshot(home)

    home.ingest(D2)
    home.dbt_run()
    second = snapshot(home)
    return {1: first, 2: second}


@pytest.fixture(scope="module")
def final(stages: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return stages[2]


def records(snap: dict[str, Any], tenant: str, meter: str | None = None) -> list[dict]:
    return [
        r
        for r in snap["records"]
        if r["tenant_id"] == tenant and (meter is None or r["meter"] == meter)
    ]


# ---------------------------------------------------------------------------------------------
# duplicates and conflicts


def test_exact_redelivery_on_a_later_day_counts_once(final):
    assert final["monthly"][(NOV, "t-redeliver", "api_call")] == 3
    (rec,) = records(final, "t-redeliver")
    assert rec["record_key"] == "events:ev-redeliver:api_call"
    # the 11-03 copy (line 2) is the duplicate, not the 11-01 one
    assert final["audit"][f"events/{D3}/late.jsonl"][3] == 2


def test_conflict_first_delivered_wins_even_when_the_later_delivery_was_ingested_first(stages):
    # ev-conflict-a: copies on 11-01 (5) and 11-03 (50), both in stage 1, 11-03 ingested first
    for stage in (1, 2):
        assert stages[stage]["monthly"][(NOV, "t-conflict", "api_call")] == 5
    # ev-conflict-x: 11-03 copy (20) ingested and built in stage 1 -> it was the only copy;
    # the 11-02 copy (2) arrives in stage 2 and, being first delivered, takes over
    assert stages[1]["monthly"][(NOV, "t-conflict2", "api_call")] == 20
    assert stages[2]["monthly"][(NOV, "t-conflict2", "api_call")] == 2
    assert len(records(stages[2], "t-conflict2")) == 1


def test_keyless_events_and_usage_logs_lines_delivered_twice_count_once(final):
    assert final["monthly"][(NOV, "t-keyless", "ai_query")] == 2
    assert final["monthly"][(NOV, "t-keyless", "llm_input_tokens")] == 10
    assert final["monthly"][(NOV, "t-keyless", "llm_output_tokens")] == 20
    assert final["monthly"][(NOV, "t-keyless", "tool_calls")] == 2
    by_meter = {r["meter"]: r for r in records(final, "t-keyless")}
    assert sorted(by_meter) == ["ai_query", "llm_input_tokens", "llm_output_tokens", "tool_calls"]
    # the second delivery of each is a duplicate in its own file
    assert final["audit"][f"usage_logs/{D3}/logs.jsonl"] == (1, 1, 0, 1, 0, 0)
    assert final["cost"][(D1, "usage_logs", "t-keyless")] == Decimal("0.01")


def test_key_order_and_white_space_differences_are_duplicates_not_conflicts(final):
    assert final["monthly"][(NOV, "t-keyorder", "voice_minute")] == Decimal("1.5")
    # a.jsonl: line 2 is the reordered ev-keyorder (duplicate), line 1 the ev-order-1 conflict
    assert final["audit"][f"events/{D1}/a.jsonl"][3:5] == (1, 1)
    # the session re-export's op-2 step has its keys in reverse order: still a duplicate
    assert final["audit"][f"sessions/{D2}/sessions.jsonl"][3:5] == (2, 0)


def test_a_quarantined_copy_never_claims_the_key(final):
    assert final["monthly"][(NOV, "t-fixed", "api_call")] == 1
    assert ("events", f"events/{D1}/a.jsonl", 3, 0, "bad_quantity") in final["quarantine"]


# ---------------------------------------------------------------------------------------------
# first-delivered order inside one delivery day


def test_file_name_byte_order_decides_within_a_day(final):
    # B.jsonl (0x42) before a.jsonl (0x61), although "a" < "B" case-insensitively
    assert final["monthly"][(NOV, "t-order", "api_call")] == 1
    assert final["audit"][f"events/{D1}/B.jsonl"][2] == 6
    # z.jsonl (0x7a) before é.jsonl (0xc3 0xa9)
    assert final["monthly"][(NOV, "t-order2", "api_call")] == 1
    assert final["audit"][f"events/{D1}/é.jsonl"] == (1, 1, 0, 0, 1, 0)


def test_line_number_orders_copies_inside_a_file_numerically(final):
    # line 9 (1) before line 10 (100): as text "10" < "9" would pick the wrong one
    assert final["monthly"][(NOV, "t-lineorder", "api_call")] == 1


def test_position_in_the_line_orders_two_spans_with_the_same_ids(final):
    # copy A is at position 1 of the line, copy B at position 5 (though first in its own scopeSpans)
    assert final["monthly"][(NOV, "t-pos", "llm_output_tokens")] == 12
    trace = final["traces"]["tr-pos"]
    assert (trace["span_count"], trace["output_tokens"], trace["status"]) == (2, 12, "ok")


# ---------------------------------------------------------------------------------------------
# late data and time zones


def test_late_event_counts_on_its_event_time_in_daily_and_monthly_marts(final):
    # delivered on 11-03, event time 2026-10-31T23:59:59Z -> October 31 / October
    (late,) = [r for r in records(final, "t-late") if r["record_key"] == "events:ev-late:api_call"]
    assert late["event_time_utc"] == "2026-10-31T23:59:59"
    assert final["daily"][("2026-10-31", "t-late", "api_call")] == 5
    assert final["monthly"][(OCT, "t-late", "api_call")] == 5
    # 00:00:00Z on 11-01 is November (the period is half-open) whatever the machine's time zone
    assert final["daily"][(NOV, "t-late", "api_call")] == 10
    assert final["monthly"][(NOV, "t-late", "api_call")] == 10


def test_offset_timestamp_is_stored_in_utc(final):
    (rec,) = [r for r in records(final, "t-late") if r["record_key"] == "events:ev-offset:api_call"]
    assert rec["event_time_utc"] == "2026-10-31T23:30:00"
    (req,) = [
        r for r in final["records"] if r["record_key"] == "usage_logs:req-oct:llm_input_tokens"
    ]
    assert req["event_time_utc"] == "2026-10-31T23:30:00"


# ---------------------------------------------------------------------------------------------
# traces


def test_a_trace_split_across_deliveries_is_one_session(stages):
    first, final = stages[1]["traces"]["tr-split"], stages[2]["traces"]["tr-split"]
    assert (first["span_count"], first["status"]) == (2, "ok")
    assert (final["span_count"], final["status"], final["is_billable"]) == (3, "ok", True)
    assert (final["input_tokens"], final["output_tokens"]) == (300, 30)
    assert [t for t in stages[2]["traces"] if t == "tr-split"] == ["tr-split"]
    assert len(records(stages[2], "t-split", "traces")) == 1


def test_a_trace_whose_root_arrives_a_day_later_becomes_billable_then(stages):
    first = stages[1]["traces"]["tr-rootlate"]
    assert (first["status"], first["is_billable"], first["span_count"]) == ("no_root", False, 2)
    assert records(stages[1], "t-rootlate", "traces") == []
    # the children's tokens count already
    assert stages[1]["monthly"][(NOV, "t-rootlate", "llm_input_tokens")] == 50

    final = stages[2]["traces"]["tr-rootlate"]
    assert (final["status"], final["is_billable"], final["span_count"]) == ("ok", True, 3)
    (trace_record,) = records(stages[2], "t-rootlate", "traces")
    assert trace_record["record_key"] == "traces:tr-rootlate:traces"
    assert trace_record["quantity"] == 1
    assert trace_record["event_time_utc"] == "2026-11-01T11:00:00"  # the root's start


def test_failed_trace_yields_tokens_but_no_trace_record(final):
    trace = final["traces"]["tr-failed"]
    assert (trace["status"], trace["is_billable"]) == ("error", False)
    assert {r["meter"]: r["quantity"] for r in records(final, "t-failed")} == {
        "llm_input_tokens": 30,
        "llm_output_tokens": 3,
    }


def test_a_child_span_never_yields_a_trace_record(final):
    trace = final["traces"]["tr-orphan"]
    assert (trace["status"], trace["is_billable"], trace["span_count"]) == ("no_root", False, 1)
    assert records(final, "t-orphan", "traces") == []
    # one trace record per trace with an ok/unset root, however many child spans it has
    trace_records = sorted(r["record_key"] for r in final["records"] if r["meter"] == "traces")
    assert trace_records == [
        "traces:tr-cost-nov:traces",
        "traces:tr-cost:traces",
        "traces:tr-pos:traces",
        "traces:tr-rootlate:traces",
        "traces:tr-split:traces",
    ]


def test_span_tenant_wins_over_the_resource_tenant(final):
    assert {r["tenant_id"] for r in final["records"]}.isdisjoint({"platform-gateway"})
    assert final["traces"]["tr-cost"]["tenant_id"] == "t-cost"


# ---------------------------------------------------------------------------------------------
# sessions


def test_session_reexport_counts_each_step_once_and_maps_usage_type_spellings(stages):
    assert stages[1]["monthly"][(NOV, "t-session", "api_call")] == 1
    assert stages[1]["monthly"][(NOV, "t-session", "ai_query")] == 1
    final = stages[2]
    steps = {r["record_key"]: r for r in records(final, "t-session")}
    assert sorted(steps) == [
        "sessions:op-1:api_call",  # ApiUsage
        "sessions:op-2:ai_query",  # aiusage
        "sessions:op-3:api_call",  # APIUsage
    ]
    assert final["monthly"][(NOV, "t-session", "api_call")] == 2
    assert final["monthly"][(NOV, "t-session", "ai_query")] == 1
    # op-3 has no timestamp: the session's createdAt
    assert steps["sessions:op-3:api_call"]["event_time_utc"] == "2026-11-01T10:00:00"
    # provider cost = step cost, each step once: 0.001 + 0.01 + 0.002
    assert final["cost"][(D1, "sessions", "t-session")] == Decimal("0.013")


# ---------------------------------------------------------------------------------------------
# provider cost


def test_provider_cost_cents_model_prices_by_effective_date_and_span_cost(final):
    cost = {r["record_key"]: r["cost_usd"] for r in records(final, "t-cost")}
    assert cost["usage_logs:req-cents:llm_input_tokens"] == Decimal("0.125")  # costCents / 100
    assert cost["usage_logs:req-oct:llm_input_tokens"] == Decimal("0.004")  # October price
    assert cost["usage_logs:req-nov:llm_input_tokens"] == Decimal("0.04")  # November price
    assert cost["traces:tr-cost/root:llm_input_tokens"] == Decimal("0.5")  # span cost wins
    assert cost["traces:tr-cost/c1:llm_input_tokens"] == Decimal("0.003")
    assert cost["traces:tr-cost-nov/root:llm_input_tokens"] == Decimal("0.03")
    # cost rides on the first record only; events' total_cost_cents is not provider cost
    assert all(v == 0 for k, v in cost.items() if not k.endswith(":llm_input_tokens"))
    (ev,) = [r for r in records(final, "t-cost") if r["source"] == "events"]
    assert (ev["cost_usd"], ev["source_cost_usd"]) == (0, Decimal("5"))
    assert final["traces"]["tr-cost"]["cost_usd"] == Decimal("0.503")


# The spans above with tokens but no gen_ai.request.model (and no cost attribute), each with an
# input and an output record: tr-split c1/c2, tr-rootlate c1, tr-failed c1, tr-orphan c1, and
# tr-pos root (copy A) and c1.
UNPRICED_SPAN_RECORDS = sorted(
    2 * ["tr-failed/c1", "tr-orphan/c1", "tr-pos/c1", "tr-pos/root", "tr-rootlate/c1"]
    + 2 * ["tr-split/c1", "tr-split/c2"]
)


def test_platform_daily_cost_is_the_sum_of_provider_costs(final):
    costs = {k: v for k, v in final["cost"].items() if v != 0}
    assert costs == {
        ("2026-10-31", "usage_logs", "t-cost"): Decimal("0.129"),  # 0.125 + 0.004
        (D1, "usage_logs", "t-cost"): Decimal("0.04"),
        ("2026-10-31", "traces", "t-cost"): Decimal("0.503"),  # 0.5 + 0.003
        (D1, "traces", "t-cost"): Decimal("0.03"),
        (D1, "usage_logs", "t-keyless"): Decimal("0.01"),
        (D1, "sessions", "t-session"): Decimal("0.013"),
    }
    assert not any(source == "events" for _, source, _ in final["cost"])
    # every costed item here has a usage record, so the fact's cost adds up to the same total
    total = sum(final["cost"].values())
    assert total == Decimal("0.725")
    assert sum(r["cost_usd"] for r in final["records"] if r["cost_usd"] is not None) == total
    # spans with tokens but no model have no price: unknown (NULL), never 0 (SPEC 2.6)
    unpriced = sorted(
        r["record_key"].split(":")[1] for r in final["records"] if r["cost_usd"] is None
    )
    assert unpriced == UNPRICED_SPAN_RECORDS


# ---------------------------------------------------------------------------------------------
# the whole mart and the audit


@pytest.mark.parametrize("stage", [1, 2])
def test_monthly_usage_is_exactly_the_hand_worked_table(stages, stage):
    assert stages[stage]["monthly"] == expected_monthly(stage)


@pytest.mark.parametrize("stage", [1, 2])
def test_ingest_audit_per_file_matches_the_hand_worked_counts(stages, stage):
    audit = stages[stage]["audit"]
    assert audit == expected_audit(stage)
    for file, (_, items, accepted, duplicates, conflicts, quarantined) in audit.items():
        assert items == accepted + duplicates + conflicts + quarantined, file


def test_quarantine_keeps_each_unusable_item_with_its_reason(final):
    assert final["quarantine"] == [
        ("events", f"events/{D1}/B.jsonl", 6, 0, "malformed_json"),
        ("events", f"events/{D1}/a.jsonl", 3, 0, "bad_quantity"),
        ("traces", f"traces/{D1}/spans.jsonl", 4, 0, "malformed_json"),
    ]


# ---------------------------------------------------------------------------------------------
# raw file names that need quoting


def test_a_file_name_with_an_apostrophe_is_ingested(tmp_path: Path):
    home = Home(tmp_path)
    line = event("ev-q", "t-quote", "api_call", 1, "2026-11-01T01:00:00Z")
    home.deliver("events", D1, "o'hare.jsonl", [line])
    (audit,) = home.ingest(D1)
    assert (audit.file, audit.items_read, audit.quarantined) == (
        f"events/{D1}/o'hare.jsonl",
        1,
        0,
    )
    assert date.fromisoformat(D1) == audit.delivery_date
