"""An independent reading of generated raw files, following SPEC 2 to the letter.

It shares no code with the generator: it parses every line of every file as an ingester would
(delivery order, quarantine before dedup, first delivered wins) and counts what it finds, so the
tests can hold the generator's own bookkeeping (`GenerateSummary`) against it.
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
EVENT_METERS = {"api_call", "voice_minute", "ai_query", "storage_mb"}
SESSION_METERS = {"apiusage", "aiusage"}

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?P<sep>[T ])\d{2}:\d{2}:\d{2}(?P<frac>\.\d+)?(?P<zone>Z|[+-]\d{2}:\d{2})?$"
)


def timestamp_form(value: object) -> str | None:
    """The SPEC 2 spelling of a timestamp value (None when it is not one of them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "epoch_millis"
    if isinstance(value, dict):
        if set(value) == {"_seconds", "_nanoseconds"}:
            return "firestore"
        if set(value) == {"seconds", "nanos"}:
            return "firestore_proto"
        return None
    if not isinstance(value, str):
        return None
    match = _ISO.match(value)
    if not match:
        return None
    millis = "_millis" if match["frac"] else ""
    if match["sep"] == " ":
        return None if match["zone"] else "space" + millis
    zone = match["zone"]
    return ("iso_z" if zone == "Z" else "iso_offset" if zone else "iso_naive") + millis


def parse_timestamp(value: object) -> datetime | None:
    """A SPEC 2 timestamp as UTC (None when unparseable)."""
    form = timestamp_form(value)
    try:
        if form == "epoch_millis":
            return datetime.fromtimestamp(value / 1000, UTC)
        if form in ("firestore", "firestore_proto"):
            seconds, nanos = value.values()
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seconds, nanos)):
                return None
            return datetime.fromtimestamp(seconds + nanos / 1e9, UTC)
        if form is None:
            return None
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_nanos(value: object) -> datetime | None:
    """An OTLP `...UnixNano` (integer or decimal string) as UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value / 1e9, UTC)


def bad_number(value: object) -> bool:
    """True unless `value` is a finite, non-negative JSON number or numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return True
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return True
    return not number.is_finite() or number < 0


def otlp_id(value: object, nbytes: int) -> str | None:
    """An OTLP id as lower-case hex (SPEC 2.3): `2 * nbytes` hex digits, or the base64 the protobuf
    JSON mapping writes for `nbytes` bytes; None for anything else."""
    if not isinstance(value, str):
        return None
    if re.fullmatch(f"[0-9a-fA-F]{{{2 * nbytes}}}", value):
        return value.lower()
    try:
        data = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except ValueError:
        return None
    return data.hex() if len(data) == nbytes and len(value) == 4 * ((nbytes + 2) // 3) else None


def details_ok(
    whole_in: object, whole_out: object, read: object, write: object, reasoning: object
) -> bool:
    """Token details are parts of their whole: cache read + write <= input, reasoning <= output
    (absent = 0). Only called once every value is known to be a good number."""

    def number(value: object) -> Decimal:
        return Decimal(str(value)) if value is not None else Decimal(0)

    return number(read) + number(write) <= number(whole_in) and number(reasoning) <= number(
        whole_out
    )


def canonical(value: object) -> str:
    """Canonical JSON: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Item:
    """One SPEC 2.5 item with what decides its fate."""

    key: str | None
    content: str
    reason: str | None
    event_time: datetime | None = None
    tenant: str | None = None


@dataclass
class SpanFact:
    """Where one span of a regular (batch) file landed."""

    trace_id: str
    is_root: bool
    status: int
    delivery: date


@dataclass
class Recount:
    """Counts per source, as an ingester following SPEC 2 would find them."""

    lines: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    forms: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    tenants: set[str] = field(default_factory=set)
    after_month_end: Counter[str] = field(default_factory=Counter)
    previous_month: Counter[str] = field(default_factory=Counter)
    spans: list[SpanFact] = field(default_factory=list)
    malformed: list[tuple[Path, int, str]] = field(default_factory=list)
    steps_without_timestamp: int = 0


def read_lines(path: Path) -> list[str]:
    """The lines of a raw file (gzipped or not), without their newlines."""
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    lines = data.decode("utf-8").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def raw_files(home: Path, source: str) -> list[Path]:
    """A source's files in delivery order: delivery date, then file name in byte order."""
    files = [p for p in (home / "raw" / source).glob("*/*") if p.is_file()]
    return sorted(files, key=lambda p: (p.parent.name, p.name.encode()))


def _quarantine(item: Item, delivery: date, meter_ok: bool, quantities_ok: bool) -> str | None:
    """The first SPEC 2.5 reason that applies (malformed lines are decided earlier)."""
    if item.tenant in (None, ""):
        return "missing_tenant"
    if item.event_time is None:
        return "bad_timestamp"
    horizon = datetime.combine(delivery + timedelta(days=2), datetime.min.time(), UTC)
    if item.event_time >= horizon:
        return "future_timestamp"
    if not meter_ok:
        return "unknown_meter"
    if not quantities_ok:
        return "bad_quantity"
    return None


def _attributes(entries: list[dict]) -> dict[str, dict]:
    """OTLP key/values as a dict of their AnyValue objects."""
    return {entry["key"]: entry["value"] for entry in entries}


def _string_attr(values: dict[str, dict], key: str) -> str | None:
    return values[key].get("stringValue") if key in values else None


def _token_value(value: dict | None) -> object:
    return None if value is None else next(iter(value.values()))


def _token_ok(value: dict | None) -> bool:
    if value is None:
        return True
    ((kind, number),) = value.items()
    return kind in ("intValue", "doubleValue") and not bad_number(number)


class _Reader:
    """Turns lines into items, per source."""

    def __init__(self, recount: Recount) -> None:
        self.recount = recount

    def events(self, line: object, delivery: date, raw: str) -> list[Item]:
        created = line.get("created_at")
        self.recount.forms["events"][timestamp_form(created)] += 1
        item = Item(
            key=line["id"]
            if "id" in line
            else hashlib.sha256(canonical(line).encode()).hexdigest(),
            content=canonical(line),
            reason=None,
            event_time=parse_timestamp(created),
            tenant=line.get("business_id"),
        )
        meter = line.get("event_type")
        meter_ok = isinstance(meter, str) and meter.strip().lower() in EVENT_METERS
        item.reason = _quarantine(item, delivery, meter_ok, not bad_number(line.get("quantity")))
        return [item]

    def usage_logs(self, line: object, delivery: date, raw: str) -> list[Item]:
        created = line.get("createdAt")
        self.recount.forms["usage_logs"][timestamp_form(created)] += 1
        item = Item(
            key=line.get("requestId") or hashlib.sha256(canonical(line).encode()).hexdigest(),
            content=canonical(line),
            reason=None,
            event_time=parse_timestamp(created),
            tenant=line.get("tenantId"),
        )
        details = ("cacheReadTokens", "cacheWriteTokens", "reasoningTokens")
        tokens_ok = not any(
            bad_number(line.get(f, 0)) for f in ("tokensIn", "tokensOut", "totalTokens", *details)
        ) and details_ok(
            line.get("tokensIn"), line.get("tokensOut"), *(line.get(f) for f in details)
        )
        item.reason = _quarantine(item, delivery, True, tokens_ok)
        return [item]

    def traces(self, line: object, delivery: date, raw: str, batch: bool) -> list[Item]:
        items = []
        for resource_spans in line["resourceSpans"]:
            resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    values = _attributes(span.get("attributes", []))
                    tenant_key = values if "tenant.id" in values else resource
                    start = span.get("startTimeUnixNano")
                    form = "otlp_int" if isinstance(start, int) else "otlp_string"
                    self.recount.forms["traces"][form if parse_nanos(start) else None] += 1
                    trace_id = otlp_id(span.get("traceId"), 16)
                    span_id = otlp_id(span.get("spanId"), 8)
                    parent = span.get("parentSpanId")
                    parent_id = otlp_id(parent, 8) if parent else parent
                    # compared with its ids in lower-case hex: a base64 copy is the same span
                    content = dict(span, traceId=trace_id, spanId=span_id)
                    if parent:
                        content["parentSpanId"] = parent_id
                    item = Item(
                        key=f"{trace_id}/{span_id}",
                        content=canonical(content),
                        reason=None,
                        event_time=parse_nanos(start),
                        tenant=_string_attr(tenant_key, "tenant.id"),
                    )
                    # older names stand for the current ones only when those are absent
                    whole_in = values.get(
                        "gen_ai.usage.input_tokens", values.get("gen_ai.usage.prompt_tokens")
                    )
                    whole_out = values.get(
                        "gen_ai.usage.output_tokens", values.get("gen_ai.usage.completion_tokens")
                    )
                    details = [
                        values.get(f"gen_ai.usage.{name}")
                        for name in (
                            "cache_read.input_tokens",
                            "cache_creation.input_tokens",
                            "reasoning.output_tokens",
                        )
                    ]
                    tokens_ok = all(_token_ok(v) for v in (whole_in, whole_out, *details))
                    tokens_ok = tokens_ok and details_ok(
                        *(_token_value(v) for v in (whole_in, whole_out, *details))
                    )
                    if trace_id is None or span_id is None or parent_id is None and parent:
                        item.reason = "malformed_json"
                    else:
                        item.reason = _quarantine(item, delivery, True, tokens_ok)
                    items.append(item)
                    if batch:
                        self.recount.spans.append(
                            SpanFact(
                                span["traceId"],
                                not span.get("parentSpanId"),
                                span.get("status", {}).get("code", 0),
                                delivery,
                            )
                        )
        return items

    def sessions(self, line: object, delivery: date, raw: str) -> list[Item]:
        items = []
        created = line.get("createdAt")
        self.recount.forms["sessions"][timestamp_form(created)] += 1
        for step in line["steps"]:
            if "timestamp" in step:
                self.recount.forms["sessions"][timestamp_form(step["timestamp"])] += 1
                at = parse_timestamp(step["timestamp"])
            else:
                self.recount.steps_without_timestamp += 1
                at = parse_timestamp(created)
            item = Item(
                key=step.get("operationId"),
                content=canonical(step),
                reason=None,
                event_time=at,
                tenant=line.get("tenantId"),
            )
            usage_type = step.get("usageType")
            meter_ok = isinstance(usage_type, str) and usage_type.lower() in SESSION_METERS
            item.reason = _quarantine(item, delivery, meter_ok, True)
            items.append(item)
        return items


def _shape_ok(source: str, line: object) -> bool:
    """Whether a parsed line is an object of its source's shape."""
    if not isinstance(line, dict):
        return False
    if source == "traces":
        return isinstance(line.get("resourceSpans"), list)
    if source == "sessions":
        return isinstance(line.get("steps"), list)
    return True


def recount_home(home: Path, month_start: date, month_end: date) -> Recount:
    """Read every raw file under `home` in delivery order and count lines, items and outcomes."""
    recount = Recount()
    reader = _Reader(recount)
    start = datetime.combine(month_start, datetime.min.time(), UTC)
    end = datetime.combine(month_end, datetime.min.time(), UTC)
    for source in SOURCES:
        claimed: dict[str, str] = {}
        for path in raw_files(home, source):
            delivery = date.fromisoformat(path.parent.name)
            for number, raw in enumerate(read_lines(path), start=1):
                recount.lines[source] += 1
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    line = None
                if not _shape_ok(source, line):
                    recount.items[source] += 1
                    recount.outcomes[source]["malformed_json"] += 1
                    recount.malformed.append((path, number, raw))
                    continue
                if source == "traces":
                    items = reader.traces(line, delivery, raw, path.name.startswith("batch-"))
                else:
                    items = getattr(reader, source)(line, delivery, raw)
                for item in items:
                    recount.items[source] += 1
                    if item.reason:
                        recount.outcomes[source][item.reason] += 1
                        continue
                    if item.event_time < start:
                        recount.previous_month[source] += 1
                    elif item.event_time < end and delivery >= month_end:
                        recount.after_month_end[source] += 1
                    if item.key not in claimed:
                        claimed[item.key] = item.content
                        recount.outcomes[source]["accepted"] += 1
                        recount.tenants.add(item.tenant)
                    elif claimed[item.key] == item.content:
                        recount.outcomes[source]["duplicate"] += 1
                    else:
                        recount.outcomes[source]["conflict"] += 1
    return recount
