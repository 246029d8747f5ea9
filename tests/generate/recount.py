"""A generated month read back from its raw files, so the tests can hold the generator's own
bookkeeping (`GenerateSummary`) against what a reader finds.

Every SPEC 2 decision (which items are quarantined and why, which copy is first delivered, what
is accepted) comes from the one SPEC 2 oracle, `tests/oracle/spec2_recount.py`, which shares no
code with the generator. This module adds only what the generator's tests look at and SPEC 2 does
not decide: the timestamp spellings used, where the spans of batch files landed, and how many
session steps carry no timestamp of their own.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from oracle.spec2_recount import SOURCES, month_of, parse_unix_nano, recount

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


@dataclass
class SpanFact:
    """Where one span of a regular (batch) file landed."""

    trace_id: str
    is_root: bool
    status: int
    delivery: date


@dataclass
class Recount:
    """Counts per source: SPEC 2 outcomes from the oracle, spellings and shapes read here."""

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


def recount_home(home: Path, month_start: date, month_end: date) -> Recount:
    """Read every raw file under `home` (the month is `month_start` up to the first of the next,
    `month_end`): lines, items and outcomes as SPEC 2 has them, and the shapes the generator
    wrote."""
    oracle = recount(home)
    result = Recount(outcomes=oracle.outcomes, tenants=oracle.tenants)
    result.malformed = oracle.malformed_lines
    for counts in oracle.files.values():
        result.lines[counts.source] += counts.lines_read
        result.items[counts.source] += counts.items_read
    month = month_of(month_start)
    for (source, delivery, item_month), items in oracle.usable.items():
        if item_month < month:
            result.previous_month[source] += items
        elif item_month == month and delivery >= month_end:
            result.after_month_end[source] += items
    for source in SOURCES:
        for path in raw_files(home, source):
            delivery = date.fromisoformat(path.parent.name)
            for text in read_lines(path):
                try:
                    line = json.loads(text)
                except json.JSONDecodeError:
                    continue
                if isinstance(line, dict):
                    _observe(result, source, line, delivery, path.name.startswith("batch-"))
    return result


def _observe(result: Recount, source: str, line: dict, delivery: date, batch: bool) -> None:
    """The spellings and shapes of one line that parsed as an object."""
    forms = result.forms[source]
    if source == "events":
        forms[timestamp_form(line.get("created_at"))] += 1
    elif source == "usage_logs":
        forms[timestamp_form(line.get("createdAt"))] += 1
    elif source == "sessions" and isinstance(line.get("steps"), list):
        forms[timestamp_form(line.get("createdAt"))] += 1
        for step in line["steps"]:
            if "timestamp" in step:
                forms[timestamp_form(step["timestamp"])] += 1
            else:
                result.steps_without_timestamp += 1
    elif source == "traces" and isinstance(line.get("resourceSpans"), list):
        for resource_spans in line["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    start = span.get("startTimeUnixNano")
                    form = "otlp_int" if isinstance(start, int) else "otlp_string"
                    forms[form if parse_unix_nano(start) else None] += 1
                    if batch:
                        result.spans.append(
                            SpanFact(
                                span["traceId"],
                                not span.get("parentSpanId"),
                                span.get("status", {}).get("code", 0),
                                delivery,
                            )
                        )
