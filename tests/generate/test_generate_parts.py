"""The generator's building blocks: text rendering, the month calendar, tenants, trap scale."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle.spec2_recount import parse_time

from orchestration.generate.calendar import MonthWindow, plan_chunks
from orchestration.generate.render import (
    UUID_DASHES,
    TimeForm,
    decimal_str,
    decimal_table,
    decimal_text,
    hex_ids,
    times_text,
)
from orchestration.generate.source import trap_scale
from orchestration.generate.tenants import NAMED_TENANTS, pick_tenants, tenant_roster

from .recount import timestamp_form

_FORM_NAMES = {
    TimeForm.ISO_Z: "iso_z",
    TimeForm.ISO_Z_MILLIS: "iso_z_millis",
    TimeForm.ISO_OFFSET: "iso_offset",
    TimeForm.ISO_NAIVE: "iso_naive",
    TimeForm.SPACE: "space",
    TimeForm.SPACE_MILLIS: "space_millis",
    TimeForm.EPOCH_MILLIS: "epoch_millis",
    TimeForm.FIRESTORE: "firestore",
    TimeForm.FIRESTORE_PROTO: "firestore_proto",
}
_WHOLE_SECONDS = {TimeForm.ISO_Z, TimeForm.ISO_OFFSET, TimeForm.ISO_NAIVE, TimeForm.SPACE}


@given(st.integers(0, 10**15), st.integers(0, 9))
def test_decimal_str_is_exact_and_minimal(units: int, scale: int) -> None:
    text = decimal_str(units, scale)
    assert Decimal(text) == Decimal(units).scaleb(-scale)
    assert not ("." in text and text.endswith("0"))


@given(st.lists(st.integers(0, 10**15), min_size=1, max_size=50), st.integers(1, 9))
def test_decimal_text_matches_decimal_str(units: list[int], scale: int) -> None:
    frame = pl.DataFrame({"u": units}, schema={"u": pl.Int64})
    texts = frame.select(decimal_text(pl.col("u"), scale))["u"].to_list()
    assert texts == [decimal_str(u, scale) for u in units]


def test_decimal_table_indexes_by_units() -> None:
    assert decimal_table(300, 2).to_list()[:3] == ["0", "0.01", "0.02"]
    assert decimal_table(300, 2)[250] == "2.5"


@given(
    st.lists(st.integers(1_577_836_800_000, 2_524_608_000_000), min_size=1, max_size=40),
    st.data(),
)
def test_times_text_round_trips_in_every_form(ms: list[int], data: st.DataObject) -> None:
    forms = data.draw(st.lists(st.sampled_from(list(TimeForm)), min_size=len(ms), max_size=len(ms)))
    texts = times_text(np.array(ms), np.array(forms)).to_list()
    for instant, form, text in zip(ms, forms, texts, strict=True):
        value = json.loads(text)
        assert timestamp_form(value) == _FORM_NAMES[form]
        expected = instant - instant % 1000 if form in _WHOLE_SECONDS else instant
        parsed = parse_time(value)
        assert parsed == datetime.fromtimestamp(expected / 1000, UTC)


def test_hex_ids_are_random_lower_hex_of_the_right_shape() -> None:
    rng = np.random.default_rng(1)
    ids = hex_ids(rng, 1000, 8).to_list()
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == 1000
    uuids = hex_ids(rng, 10, 16, UUID_DASHES).to_list()
    assert all(re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", u) for u in uuids)


@pytest.mark.parametrize(
    ("month", "first", "days"),
    [
        ("2026-10", date(2026, 10, 1), 31),
        ("2028-02", date(2028, 2, 1), 29),
        ("2026-12", date(2026, 12, 1), 31),
    ],
)
def test_month_window(month: str, first: date, days: int) -> None:
    window = MonthWindow.parse(month)
    assert (window.first_day, window.days, window.label) == (first, days, month)
    assert window.end_ms - window.start_ms == days * 86_400_000
    assert window.date_of(-1) < first < window.date_of(days)


def test_plan_chunks_cover_all_units_in_day_order() -> None:
    window = MonthWindow.parse("2026-10")
    chunks = plan_chunks(np.random.default_rng(3), window, 1_000_000, 100_000)
    assert sum(c.size for c in chunks) == 1_000_000
    assert chunks[0].previous_month and not any(c.previous_month for c in chunks[1:])
    starts = [c.first_day for c in chunks[1:]]
    assert starts[0] == 0 and starts == sorted(starts)
    assert chunks[-1].first_day + len(chunks[-1].day_counts) == window.days


def test_deliveries_are_sorted_and_never_before_the_event_day() -> None:
    rng = np.random.default_rng(4)
    window = MonthWindow.parse("2026-10")
    for chunk in plan_chunks(rng, window, 50_000, 10_000):
        deliveries = chunk.deliveries(rng, window)
        assert np.all(np.diff(deliveries.day) >= 0)
        assert np.all(deliveries.day >= np.maximum(window.day_of(deliveries.ms), 0))
        assert np.all(deliveries.day <= window.days + 10)


def test_tenant_roster_is_stable_and_escapes_are_exercised_early() -> None:
    assert tenant_roster(5) == NAMED_TENANTS[:5]
    assert tenant_roster(20)[-1] == "tenant-0019"
    assert any(not t.isascii() or " " in t for t in tenant_roster(5))
    picked = pick_tenants(np.random.default_rng(5), 20, 100, cover=True)
    assert set(picked) == set(range(20))


@pytest.mark.parametrize(
    ("events", "scale"), [(1_000, 1), (20_000, 2), (1_000_000, 4), (10_000_000, 5)]
)
def test_trap_scale(events: int, scale: int) -> None:
    assert trap_scale(events) == scale
