"""The one SPEC 2 recount every test that needs an oracle uses, written from SPEC section 2 alone.

Nothing here comes from `orchestration`: it reads `$METERLINE_HOME/raw/<source>/<day>/*.jsonl[.gz]`
and implements, of SPEC 2:

- 2 (landing zone): delivery order (delivery date, then file name in byte order, then line, then
  position in the line), gzip or plain files, a last line without newline still a line; every
  timestamp form (ISO-8601 with Z / offset / no zone, `YYYY-MM-DD HH:MM:SS[.fff]`, epoch
  milliseconds, Firestore `{_seconds,_nanoseconds}` / `{seconds,nanos}`, OTLP nanos);
- 2.1 events (meter = `event_type` lower-cased, one of the event meters; quantity exact);
- 2.2 usage_logs (input / output tokens, tool calls, and the token details with their wholes);
- 2.3 traces (OTLP/JSON spans, hex or base64 ids, tenant from span or resource, token attributes
  and their older names, one `traces` record per billable trace: root arrived and not failed,
  counted on the root's start);
- 2.4 sessions (one item per step, `usageType` to meter, the session's time for a step without
  one);
- 2.5 quarantine (malformed_json, missing_tenant, bad_timestamp, future_timestamp,
  unknown_meter, bad_quantity: the first that applies, decided before dedup) and dedup (first
  delivered wins; same canonical JSON = duplicate, other = conflict), with the per-file audit.

Not implemented: 2.6 provider cost (the oracle counts usage, not money) and 2.7 pulls (they land
as raw files like any delivery).

`recount(home).usage` is `{(tenant_id, "YYYY-MM", meter): Decimal}`; `.files` the audit per raw
file; `.outcomes` per source; `.traces` the facts per trace. Users: tests/e2e (CLI end to end),
tests/integration/test_delivery_order_property.py and test_incremental_property.py (through its
`reference()`), tests/generate (through `recount.py`).

Where SPEC is silent this reading is deliberately plain, and the choices are written down next to
the code (e.g. a usage_logs line without `tokensIn` yields no `llm_input_tokens` record).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

SOURCES = ("events", "usage_logs", "traces", "sessions")
REASONS = (
    "malformed_json",
    "missing_tenant",
    "bad_timestamp",
    "future_timestamp",
    "unknown_meter",
    "bad_quantity",
)
EVENT_METERS = frozenset({"api_call", "voice_minute", "ai_query", "storage_mb"})
AGENT_OPERATIONS = frozenset({"invoke_agent", "invoke_workflow", "create_agent"})
# (usage_logs field, OTLP attribute, meter) of the token details, and the whole each is part of
TOKEN_DETAILS = (
    ("cacheReadTokens", "gen_ai.usage.cache_read.input_tokens", "llm_cache_read_tokens", "in"),
    (
        "cacheWriteTokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "llm_cache_write_tokens",
        "in",
    ),
    ("reasoningTokens", "gen_ai.usage.reasoning.output_tokens", "llm_reasoning_tokens", "out"),
)
SESSION_METERS = {"apiusage": "api_call", "aiusage": "ai_query"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# --- numbers ----------------------------------------------------------------------------------

_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def to_decimal(value: object) -> Decimal | None:
    """A JSON number or numeric string as an exact Decimal; None when it is neither (booleans,
    "abc", "NaN", "Infinity", objects...)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _NUMERIC.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            return None
    return None


def good_quantity(value: object) -> bool:
    """SPEC 2.5 bad_quantity is: non-numeric, negative, NaN, infinite."""
    number = to_decimal(value)
    return number is not None and number >= 0


# --- timestamps -------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)


def _int_like(value: object) -> int | None:
    """An integer JSON number, or a string of digits (protobuf JSON writes int64 as strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _from_parts(seconds: int, nanos: int) -> datetime | None:
    try:
        return EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        return None


def parse_time(value: object) -> datetime | None:
    """Every SPEC 2 timestamp form except OTLP nanos, as an aware UTC datetime (None = bad).

    ISO-8601 with Z / offset / no zone (= UTC), `YYYY-MM-DD HH:MM:SS[.fff]` (= UTC), epoch
    milliseconds (a JSON integer), Firestore `{_seconds,_nanoseconds}` / `{seconds,nanos}`.
    Sub-microsecond digits are truncated (which keeps every comparison with a whole second exact).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            return None
    if isinstance(value, dict):
        for sec_key, nano_key in (("_seconds", "_nanoseconds"), ("seconds", "nanos")):
            if set(value) == {sec_key, nano_key}:
                seconds, nanos = _int_like(value[sec_key]), _int_like(value[nano_key])
                if seconds is None or nanos is None or not 0 <= nanos < 10**9:
                    return None
                return _from_parts(seconds, nanos)
        return None
    if not isinstance(value, str):
        return None
    match = _ISO.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micros = int((match.group(7) or "").ljust(6, "0")[:6])
    try:
        moment = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    except ValueError:
        return None
    if match["sign"]:
        hours, minutes = int(match["oh"]), int(match["om"])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        moment = moment - offset if match["sign"] == "+" else moment + offset
    return moment


def parse_unix_nano(value: object) -> datetime | None:
    """An OTLP `...UnixNano`: a JSON integer or a decimal string of digits."""
    nanos = _int_like(value)
    if nanos is None or nanos < 0:
        return None
    return _from_parts(nanos // 10**9, nanos % 10**9)


# --- JSON -------------------------------------------------------------------------------------


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> object:
    """Strict JSON (no NaN/Infinity literals), numbers with a fraction or exponent as Decimal."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def canonical(value: object) -> str:
    """Canonical JSON: sorted keys, no spaces; Decimals written as read."""
    if isinstance(value, dict):
        parts = (
            json.dumps(key, ensure_ascii=False) + ":" + canonical(value[key])
            for key in sorted(value)
        )
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def content_key(value: object) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


# --- items ------------------------------------------------------------------------------------


@dataclass
class Item:
    """One SPEC 2.5 item and what SPEC 2 makes of it."""

    key: str
    content: str
    tenant: object = None
    time: datetime | None = None
    meter_ok: bool = True
    quantities_ok: bool = True
    records: list[tuple[str, Decimal]] = field(default_factory=list)  # (meter, quantity)
    reason: str | None = None
    # traces only
    trace_id: str | None = None
    span_id: str | None = None
    is_root: bool = False
    remote_parent: bool = False
    root_failed: bool = False
    malformed: bool = False  # an id that is neither hex nor base64
    # what dedup compares when it differs from `content` (a span with its ids in lower-case hex)
    dedup_content: str | None = None


def _reason(item: Item, delivery: date) -> str | None:
    """The first quarantine reason of SPEC 2.5 that applies (malformed lines are decided before)."""
    if item.malformed:
        return "malformed_json"
    if item.tenant is None or item.tenant == "" or not isinstance(item.tenant, str):
        return "missing_tenant"
    if item.time is None:
        return "bad_timestamp"
    horizon = datetime(delivery.year, delivery.month, delivery.day, tzinfo=UTC) + timedelta(days=2)
    if item.time >= horizon:
        return "future_timestamp"
    if not item.meter_ok:
        return "unknown_meter"
    if not item.quantities_ok:
        return "bad_quantity"
    return None


def _line_key(line: dict, field_name: str) -> str:
    """The dedup key of an events / usage_logs line: its key field, else its content hash."""
    value = line.get(field_name)
    if value is None:
        return "sha256:" + content_key(line)
    return "key:" + canonical(value)


def event_items(line: object) -> list[Item] | None:
    if not isinstance(line, dict):
        return None
    event_type = line.get("event_type")
    meter = event_type.strip().lower() if isinstance(event_type, str) else None
    quantity = line.get("quantity")
    item = Item(
        key=_line_key(line, "id"),
        content=canonical(line),
        tenant=line.get("business_id"),
        time=parse_time(line.get("created_at")),
        meter_ok=meter in EVENT_METERS,
        quantities_ok=good_quantity(quantity),
    )
    if item.meter_ok and item.quantities_ok:
        item.records.append((meter, to_decimal(quantity)))
    return [item]


def usage_log_items(line: object) -> list[Item] | None:
    if not isinstance(line, dict):
        return None
    ok = True
    records: list[tuple[str, Decimal]] = []
    # Token fields: absent = no record (SPEC is silent); present must be a good quantity.
    for field_name, meter in (("tokensIn", "llm_input_tokens"), ("tokensOut", "llm_output_tokens")):
        if field_name in line:
            value = line[field_name]
            if good_quantity(value):
                records.append((meter, to_decimal(value)))
            else:
                ok = False
    if "totalTokens" in line and not good_quantity(line["totalTokens"]):
        ok = False
    tools = line.get("toolInvocations")
    tool_total = Decimal(0)
    if isinstance(tools, dict):
        for count in tools.values():
            if good_quantity(count):
                tool_total += to_decimal(count)
            else:
                ok = False
    elif tools is not None:
        ok = False
    if tool_total > 0:
        records.append(("tool_calls", tool_total))
    ok = (
        _add_details(
            records,
            {f: line.get(f) for f, _, _, _ in TOKEN_DETAILS},
            line.get("tokensIn"),
            line.get("tokensOut"),
        )
        and ok
    )
    item = Item(
        key=_line_key(line, "requestId"),
        content=canonical(line),
        tenant=line.get("tenantId"),
        time=parse_time(line.get("createdAt")),
        quantities_ok=ok,
        records=records if ok else [],
    )
    return [item]


def _add_details(
    records: list[tuple[str, Decimal]],
    details: dict[str, object],
    whole_in: object,
    whole_out: object,
) -> bool:
    """Check the token details (keyed by their usage_logs field name) against their wholes and
    add a record for each above 0; False when one is bad or they exceed their whole."""
    parts = {"in": Decimal(0), "out": Decimal(0)}
    for field_name, _, meter, whole in TOKEN_DETAILS:
        value = details.get(field_name)
        if value is None:
            continue
        if not good_quantity(value):
            return False
        parts[whole] += to_decimal(value)
        if to_decimal(value) > 0:
            records.append((meter, to_decimal(value)))
    total_in = to_decimal(whole_in) if good_quantity(whole_in) else Decimal(0)
    total_out = to_decimal(whole_out) if good_quantity(whole_out) else Decimal(0)
    return parts["in"] <= total_in and parts["out"] <= total_out


def otlp_id(value: object, nbytes: int) -> str | None:
    """SPEC 2.3: hex of the id's length, compared in lower case, or the base64 the protobuf JSON
    mapping writes for bytes (24 characters for 16 bytes, 12 for 8), decoded; else None."""
    if not isinstance(value, str):
        return None
    if len(value) == 2 * nbytes and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    if len(value) != 4 * ((nbytes + 2) // 3):
        return None
    try:
        data = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except ValueError:
        return None
    return data.hex() if len(data) == nbytes else None


def _attributes(entries: object) -> dict[str, object] | None:
    """OTLP key/values as {key: AnyValue}; None when the list is not of that shape."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        return None
    values: dict[str, object] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            return None
        values[entry["key"]] = entry.get("value")
    return values


def _any_string(value: object) -> object:
    return value.get("stringValue") if isinstance(value, dict) else None


def _any_number(value: object) -> Decimal | None:
    """A token count from an OTLP AnyValue (intValue / doubleValue / numeric stringValue)."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((kind, number),) = value.items()
    if kind not in ("intValue", "doubleValue", "stringValue"):
        return None
    return to_decimal(number)


def _is_error(status: object) -> bool:
    code = status.get("code") if isinstance(status, dict) else None
    return code in (2, "2", "STATUS_CODE_ERROR")


def span_items(line: object) -> list[Item] | None:
    if not isinstance(line, dict) or not isinstance(line.get("resourceSpans"), list):
        return None
    items: list[Item] = []
    for resource_spans in line["resourceSpans"]:
        if not isinstance(resource_spans, dict):
            return None
        resource = resource_spans.get("resource") or {}
        if not isinstance(resource, dict):
            return None
        resource_attrs = _attributes(resource.get("attributes"))
        scopes = resource_spans.get("scopeSpans", [])
        if resource_attrs is None or not isinstance(scopes, list):
            return None
        for scope_spans in scopes:
            if not isinstance(scope_spans, dict) or not isinstance(
                scope_spans.get("spans", []), list
            ):
                return None
            for span in scope_spans.get("spans", []):
                if not isinstance(span, dict):
                    return None
                attrs = _attributes(span.get("attributes"))
                if attrs is None:
                    return None
                tenant = _any_string(
                    attrs["tenant.id"] if "tenant.id" in attrs else resource_attrs.get("tenant.id")
                )
                ok = True
                records: list[tuple[str, Decimal]] = []
                wholes: dict[str, Decimal | None] = {}
                for kind, legacy in (("input", "prompt"), ("output", "completion")):
                    # the older name stands in only when the current one is absent
                    name = f"gen_ai.usage.{kind}_tokens"
                    name = name if name in attrs else f"gen_ai.usage.{legacy}_tokens"
                    wholes[kind] = None
                    if name in attrs:
                        tokens = _any_number(attrs[name])
                        if tokens is None or tokens < 0:
                            ok = False
                        else:
                            wholes[kind] = tokens
                            records.append((f"llm_{kind}_tokens", tokens))
                details = {}
                for field_name, attribute, _, _ in TOKEN_DETAILS:
                    if attribute in attrs:
                        value = _any_number(attrs[attribute])
                        details[field_name] = value if value is not None else "bad"
                ok = _add_details(records, details, wholes["input"], wholes["output"]) and ok
                # agent spans' tokens are totals of the calls below them: never metered (2.3)
                if _any_string(attrs.get("gen_ai.operation.name")) in AGENT_OPERATIONS:
                    records = []
                parent = span.get("parentSpanId")
                trace_id = otlp_id(span.get("traceId"), 16)
                span_id = otlp_id(span.get("spanId"), 8)
                parent_id = otlp_id(parent, 8) if parent else None
                content = dict(span, traceId=trace_id, spanId=span_id)
                if parent:
                    content["parentSpanId"] = parent_id
                flags = span.get("flags")
                items.append(
                    Item(
                        key=canonical([trace_id, span_id]),
                        content=canonical(span),
                        dedup_content=canonical(content),
                        tenant=tenant,
                        time=parse_unix_nano(span.get("startTimeUnixNano")),
                        quantities_ok=ok,
                        records=records if ok else [],
                        trace_id=trace_id,
                        span_id=span_id,
                        is_root=parent is None or parent == "",
                        remote_parent=isinstance(flags, int) and flags & 0x300 == 0x300,
                        root_failed=_is_error(span.get("status")),
                        malformed=trace_id is None
                        or span_id is None
                        or (bool(parent) and parent_id is None),
                    )
                )
    return items


def step_items(line: object) -> list[Item] | None:
    if not isinstance(line, dict) or not isinstance(line.get("steps"), list):
        return None
    if not all(isinstance(step, dict) for step in line["steps"]):
        return None
    items = []
    for step in line["steps"]:
        # the step's own timestamp; the session's createdAt only when the step has none at all
        stamp = step["timestamp"] if "timestamp" in step else line.get("createdAt")
        usage_type = step.get("usageType")
        meter = SESSION_METERS.get(usage_type.lower()) if isinstance(usage_type, str) else None
        operation = step.get("operationId")
        items.append(
            Item(
                key="key:" + canonical(operation)
                if operation is not None
                else "sha256:" + content_key(step),
                content=canonical(step),
                tenant=line.get("tenantId"),
                time=parse_time(stamp),
                meter_ok=meter is not None,
                records=[(meter, Decimal(1))] if meter else [],
            )
        )
    return items


READERS = {
    "events": event_items,
    "usage_logs": usage_log_items,
    "traces": span_items,
    "sessions": step_items,
}

# --- the recount ------------------------------------------------------------------------------


@dataclass
class FileCount:
    """Per raw file: what an ingester following SPEC 2.5 must report in `ingest_audit`."""

    source: str
    delivery_date: date
    lines_read: int = 0
    items_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0


@dataclass
class TraceFacts:
    """One trace as assembled from its accepted spans."""

    spans: int = 0
    root_tenant: str | None = None
    root_time: datetime | None = None
    root_failed: bool = False
    root_delivery: date | None = None
    first_delivery: date | None = None
    # spans whose parent is remote: (start, spanId, tenant, failed, delivery)
    remote: list[tuple] = field(default_factory=list)

    def settle(self) -> None:
        """A trace without a parentless span is rooted at its earliest remote-parent span
        (then the smallest spanId), SPEC 2.3."""
        if self.root_time is None and self.remote:
            time, _, tenant, failed, delivery = min(self.remote, key=lambda r: (r[0], r[1]))
            self.root_time, self.root_tenant = time, tenant
            self.root_failed, self.root_delivery = failed, delivery

    @property
    def has_root(self) -> bool:
        return self.root_time is not None

    @property
    def billable(self) -> bool:
        return self.has_root and not self.root_failed


@dataclass
class Recount:
    usage: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    record_counts: Counter = field(default_factory=Counter)
    files: dict[str, FileCount] = field(default_factory=dict)  # key: "<source>/<day>/<name>"
    # (source, file, line_number, reason) -> number of quarantined items
    quarantine: Counter = field(default_factory=Counter)
    # (source, file, line_number) -> [canonical JSON of each quarantined item, or the raw line
    # text when the line itself is unusable]
    quarantined_raw: dict[tuple[str, str, int], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    outcomes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    traces: dict[str, TraceFacts] = field(default_factory=dict)  # traceId -> facts
    tenants: set[str] = field(default_factory=set)  # of the accepted items
    # (source, delivery date, "YYYY-MM" of the item) -> items past quarantine, before dedup
    usable: Counter = field(default_factory=Counter)
    # (path, line number, text) of each line that is not a JSON object of its source's shape
    malformed_lines: list[tuple[Path, int, str]] = field(default_factory=list)

    def billable_traces(self) -> dict[tuple[str, str], int]:
        """(tenant, month) -> number of billable traces."""
        counts: Counter = Counter()
        for facts in self.traces.values():
            if facts.billable:
                counts[(facts.root_tenant, month_of(facts.root_time))] += 1
        return dict(counts)


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def read_lines(path: Path) -> list[bytes]:
    """A raw file's lines (gzip or not); a last line without newline is still a line."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def delivery_files(raw: Path, source: str) -> list[tuple[date, Path]]:
    """A source's raw files in SPEC delivery order: delivery date, then file name bytes."""
    found = []
    folder = raw / source
    if not folder.is_dir():
        return []
    for day in folder.iterdir():
        try:
            delivery = date.fromisoformat(day.name)
        except ValueError:
            continue
        for path in day.iterdir():
            if path.is_file() and path.name.endswith((".jsonl", ".jsonl.gz")):
                found.append((delivery, path))
    return sorted(found, key=lambda pair: (pair[0], pair[1].name.encode()))


def recount(home: Path) -> Recount:
    """Read every raw file of `home` the way SPEC 2 says, and add up the accepted usage."""
    result = Recount()
    usage: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    raw = home / "raw"
    for source in SOURCES:
        reader = READERS[source]
        claimed: dict[str, str] = {}
        for delivery, path in delivery_files(raw, source):
            rel = f"{source}/{path.parent.name}/{path.name}"
            counts = result.files[rel] = FileCount(source, delivery)
            for number, raw_line in enumerate(read_lines(path), start=1):
                counts.lines_read += 1
                try:
                    items = reader(parse_json(raw_line.decode("utf-8")))
                except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                    items = None
                if items is None:
                    counts.items_read += 1
                    counts.quarantined += 1
                    result.quarantine[(source, rel, number, "malformed_json")] += 1
                    result.quarantined_raw[(source, rel, number)].append(
                        raw_line.decode("utf-8", "replace")
                    )
                    result.malformed_lines.append(
                        (path, number, raw_line.decode("utf-8", "replace"))
                    )
                    result.outcomes[source]["malformed_json"] += 1
                    continue
                for item in items:
                    counts.items_read += 1
                    item.reason = _reason(item, delivery)
                    if item.reason:
                        counts.quarantined += 1
                        result.quarantine[(source, rel, number, item.reason)] += 1
                        result.quarantined_raw[(source, rel, number)].append(item.content)
                        result.outcomes[source][item.reason] += 1
                        continue
                    result.usable[(source, delivery, month_of(item.time))] += 1
                    if item.key in claimed:
                        if claimed[item.key] == (item.dedup_content or item.content):
                            counts.duplicates += 1
                            result.outcomes[source]["duplicate"] += 1
                        else:
                            counts.conflicts += 1
                            result.outcomes[source]["conflict"] += 1
                        continue
                    claimed[item.key] = item.dedup_content or item.content
                    counts.accepted += 1
                    result.outcomes[source]["accepted"] += 1
                    result.tenants.add(item.tenant)
                    month = month_of(item.time)
                    for meter, quantity in item.records:
                        usage[(item.tenant, month, meter)] += quantity
                        result.record_counts[(item.tenant, month, meter)] += 1
                    if source == "traces":
                        _add_span(result.traces, item, delivery)
    for facts in result.traces.values():
        facts.settle()
        if facts.billable:
            key = (facts.root_tenant, month_of(facts.root_time), "traces")
            usage[key] += 1
            result.record_counts[key] += 1
    result.usage = dict(usage)
    return result


def _add_span(traces: dict[str, TraceFacts], item: Item, delivery: date) -> None:
    trace_id = item.trace_id if isinstance(item.trace_id, str) else canonical(item.trace_id)
    facts = traces.setdefault(trace_id, TraceFacts())
    facts.spans += 1
    if facts.first_delivery is None or delivery < facts.first_delivery:
        facts.first_delivery = delivery
    if item.remote_parent and not item.is_root:
        facts.remote.append((item.time, item.span_id, item.tenant, item.root_failed, delivery))
    if item.is_root and facts.root_time is None:  # the first delivered root is the root
        facts.root_tenant = item.tenant
        facts.root_time = item.time
        facts.root_failed = item.root_failed
        facts.root_delivery = delivery
