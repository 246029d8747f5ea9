"""`generate_month` end to end: what it writes, held against an independent reading (recount)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from oracle.spec2_recount import REASONS, SOURCES

from orchestration.generate import MIX, generate_month

from .conftest import MONTH, MONTH_END, MONTH_START, Generated
from .recount import raw_files, read_lines, recount_home

ALL_FORMS = {
    "iso_z",
    "iso_z_millis",
    "iso_offset",
    "iso_naive",
    "space",
    "space_millis",
    "epoch_millis",
    "firestore",
    "firestore_proto",
    "otlp_int",
    "otlp_string",
}


def _digest(home: Path) -> dict[str, str]:
    """sha256 of every file under home/raw, by relative path."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((home / "raw").rglob("*"))
        if p.is_file()
    }


def test_same_seed_writes_byte_identical_files(generated: Generated, tmp_path: Path) -> None:
    generate_month(tmp_path, MONTH)
    assert _digest(tmp_path) == _digest(generated.home)


def test_other_seed_writes_other_content(generated: Generated, tmp_path: Path) -> None:
    summary = generate_month(tmp_path, MONTH, seed=8)
    assert all("-s8" in p.name for p in summary.files)
    batches = [
        {digest for name, digest in _digest(home).items() if "/batch-" in name}
        for home in (tmp_path, generated.home)
    ]
    assert batches[0].isdisjoint(batches[1])


def test_rerun_replaces_earlier_files_of_same_month_and_seed(tmp_path: Path) -> None:
    generate_month(tmp_path, MONTH, events=20_000)
    other_month = generate_month(tmp_path, "2026-11", events=2_000)
    smaller = generate_month(tmp_path, MONTH, events=2_000)
    on_disk = {p for p in (tmp_path / "raw").rglob("*") if p.is_file()}
    assert on_disk == set(smaller.files) | set(other_month.files)
    assert not [d for d in (tmp_path / "raw").glob("*/*") if d.is_dir() and not any(d.iterdir())]


def test_writes_only_source_folders_under_raw(generated: Generated) -> None:
    assert {p.name for p in (generated.home / "raw").iterdir()} == set(SOURCES)
    assert generated.home.joinpath("raw").glob("*/*/*")
    assert set(generated.summary.files) == {
        p for p in (generated.home / "raw").rglob("*") if p.is_file()
    }
    for path in generated.summary.files:
        assert path.parent.parent.name in SOURCES
        assert path.name.endswith((".jsonl", ".jsonl.gz"))


def test_some_files_are_gzipped(generated: Generated) -> None:
    gzipped = [p for p in generated.summary.files if p.name.endswith(".gz")]
    assert {p.parent.parent.name for p in gzipped} == set(SOURCES)
    for path in gzipped:
        assert read_lines(path)  # valid gzip with content


def test_item_count_honours_events_within_ten_percent(generated: Generated) -> None:
    assert abs(generated.summary.total_items - 20_000) <= 2_000
    for source, share in MIX.items():
        assert abs(generated.summary.items[source] - 20_000 * share) <= 20_000 * share * 0.1


def test_lines_and_items_match_the_recount(generated: Generated) -> None:
    summary, recount = generated.summary, generated.recount
    assert summary.lines == dict(recount.lines)
    assert summary.items == dict(recount.items)


def test_expected_outcomes_match_the_recount(generated: Generated) -> None:
    summary, recount = generated.summary, generated.recount
    for source in SOURCES:
        expected = {k: v for k, v in summary.expected[source].items() if v}
        assert expected == dict(recount.outcomes[source]), source
        assert sum(summary.expected[source].values()) == summary.items[source]


@pytest.mark.parametrize("source", SOURCES)
def test_every_applicable_quarantine_reason_is_present(generated: Generated, source: str) -> None:
    not_applicable = {
        "usage_logs": {"unknown_meter"},
        "traces": {"unknown_meter"},
        "sessions": {"bad_quantity"},  # a step has no quantity field
    }
    expected = generated.summary.expected[source]
    for reason in REASONS:
        if reason not in not_applicable.get(source, set()):
            assert expected[reason] >= 1, reason
    assert expected["duplicate"] >= 1
    assert expected["conflict"] >= 1


def test_every_line_is_valid_or_an_intended_malformed_trap(generated: Generated) -> None:
    recount = generated.recount
    malformed = Counter(p.parent.parent.name for p, _, _ in recount.malformed)
    for source in SOURCES:
        traps = generated.summary.traps[source]
        assert malformed[source] == traps["truncated_line"] + traps["non_object_line"]
    for path, number, text in recount.malformed:
        assert path.name.startswith("retry-")
        lines = read_lines(path)
        truncated = number == len(lines) and not path.read_bytes().endswith(b"\n")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            assert truncated, (path, number)
        else:
            assert not isinstance(parsed, dict), (path, number)


def test_every_timestamp_form_is_present(generated: Generated) -> None:
    forms = set()
    for counts in generated.recount.forms.values():
        forms |= {form for form in counts if form}
    assert forms >= ALL_FORMS


def test_previous_and_next_month_deliveries(generated: Generated) -> None:
    summary, recount = generated.summary, generated.recount
    assert summary.items_after_month_end == {s: recount.after_month_end[s] for s in SOURCES}
    assert summary.items_from_previous_month == {s: recount.previous_month[s] for s in SOURCES}
    assert all(summary.items_after_month_end[s] > 0 for s in SOURCES)
    assert all(summary.items_from_previous_month[s] > 0 for s in SOURCES)
    assert summary.first_delivery == MONTH_START
    assert MONTH_END < summary.last_delivery <= MONTH_END.replace(day=11)


def test_traces_split_late_rootless_and_failed(generated: Generated) -> None:
    traps = generated.summary.traps["traces"]
    days: dict[str, set] = defaultdict(set)
    root_day, child_days, has_root = {}, defaultdict(set), set()
    failed = unset = 0
    for span in generated.recount.spans:
        days[span.trace_id].add(span.delivery)
        if span.is_root:
            has_root.add(span.trace_id)
            root_day[span.trace_id] = span.delivery
            failed += span.status == 2
            unset += span.status == 0
        else:
            child_days[span.trace_id].add(span.delivery)
    multi_day = sum(len(d) > 1 for d in days.values())
    root_late = sum(root_day[t] > min(child_days[t]) for t in root_day if child_days[t])
    assert multi_day == traps["trace_split"] + traps["trace_root_late"] > 0
    assert root_late == traps["trace_root_late"] > 0
    assert len(days) - len(has_root) == traps["trace_no_root"] > 0
    assert failed == traps["trace_failed"] > 0
    assert unset == traps["trace_unset_root_status"] > 0


def test_every_tenant_and_only_the_roster_receives_usage(generated: Generated) -> None:
    assert generated.recount.tenants == set(generated.summary.tenants)
    assert len(generated.summary.tenants) == 5


def test_tenant_count_is_honoured(tmp_path: Path) -> None:
    summary = generate_month(tmp_path, "2026-02", tenants=40, events=5_000, seed=3)
    recount_tenants = recount_home(tmp_path, date(2026, 2, 1), date(2026, 3, 1)).tenants
    assert recount_tenants == set(summary.tenants)
    assert len(summary.tenants) == 40


def test_session_shapes(generated: Generated) -> None:
    traps = generated.summary.traps["sessions"]
    assert traps["session_reexported"] > 0
    assert traps["empty_session"] > 0
    assert generated.recount.steps_without_timestamp > 0
    spellings = set()
    for path in raw_files(generated.home, "sessions"):
        for line in read_lines(path):
            spellings |= {m.group(1) for m in re.finditer(r'"usageType":"(\w+)"', line)}
    assert {"ApiUsage", "APIUsage", "aiusage"} <= spellings


def test_event_type_spellings_and_numeric_strings(generated: Generated) -> None:
    text = "".join(
        "\n".join(read_lines(p)) for p in raw_files(generated.home, "events") if "batch" in p.name
    )
    assert '"event_type":"API_CALL"' in text
    assert '"event_type":" api_call"' in text
    assert re.search(r'"quantity":"\d', text)
    assert re.search(r'"quantity":\d', text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"month": "2026-13"}, "YYYY-MM"),
        ({"month": "2026-1"}, "YYYY-MM"),
        ({"events": 999}, "events"),
        ({"tenants": 0}, "tenants"),
        ({"tenants": 300, "events": 1_000}, "tenants"),
    ],
)
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_month(tmp_path, **{"month": MONTH, **kwargs})
