"""Rating rules of SPEC §4 and the SPEC §6 invoice. Every expected number is worked by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import yaml

from orchestration.billing.catalog import Catalog, Price, parse_catalog
from orchestration.billing.invoice_files import invoice_json, line_from_json, line_json
from orchestration.billing.rating import (
    money_text,
    period_bounds,
    quantity_text,
    rate_adjustment_line,
    rate_invoice,
    rate_usage_line,
    round_money,
    utc_timestamp,
)

D = Decimal
GENERATED_AT = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)


def flat_catalog(**plan: Any) -> Catalog:
    """One plan `flat` ($100 fee; api_call $0.01, none included unless overridden) for everyone."""
    flat = {
        "name": "Flat",
        "monthly_fee": "100.00",
        "prices": {"api_call": {"included": 0, "unit_price": "0.01"}},
    }
    document = {
        "currency": "USD",
        "default_plan": "flat",
        "meters": {meter: {"unit": "unit"} for meter in ("api_call", "traces", "voice_minute")},
        "plans": {"flat": flat | plan},
    }
    return parse_catalog(yaml.safe_dump(document))


def invoice_for(catalog: Catalog, usage: dict[str, Decimal], adjustments=()) -> dict[str, Any]:
    """The rated invoice as its SPEC 6 JSON object (`adjustments`: lines as JSON objects)."""
    lines = [line_from_json(line) for line in adjustments]
    return invoice_json(
        rate_invoice(catalog, "acme", "2026-10", usage, lines, GENERATED_AT, "draft", None)
    )


def test_spec_worked_example(spec_catalog, spec_invoice_json):
    usage = {
        "api_call": D("103000"),
        "llm_input_tokens": D("88123004"),
        "traces": D("261337"),
        "voice_minute": D("12.5"),  # not priced by growth: in `usage`, no line
    }
    # traces billed 260000 on INV-202609-0004 (10000 billable x 0.0005 = 5.00); now 260120
    # (10120 x 0.0005 = 5.06): quantity 120, amount 5.06 - 5.00 = 0.06
    adjustment = rate_adjustment_line(
        "traces",
        spec_catalog.plans["growth"].prices["traces"],
        D("260120"),
        D("260000"),
        "INV-202609-0004",
        "2026-09",
    )
    invoice = invoice_json(
        rate_invoice(
            spec_catalog,
            "acme",
            "2026-10",
            usage,
            [adjustment],
            GENERATED_AT,
            "final",
            "INV-202610-0001",
        )
    )
    # api_call: billable 103000 - 1000 = 102000; tier 1: 100000 x 0.01 = 1000.00;
    #   tier 2: 2000 x 0.008 = 16.00; line 1016.00
    # llm_input_tokens: 88123004 x 0.000003 = 264.369012 -> 264.37
    # traces: 261337 - 250000 = 11337 x 0.0005 = 5.6685 -> 5.67
    # subtotal: 1016.00 + 264.37 + 5.67 + 0.06 (adjustment) = 1286.10
    # discount: 1000.00 <= 1286.10 < 5000.00 -> 5%: 1286.10 x 5 / 100 = 64.305 -> -64.31
    # total: 500.00 + 1286.10 - 64.31 + 0.00 = 1721.79
    # alerts: api_call 103000 >= 900 (0.9 x 1000) and >= 1000; traces 261337 >= 225000 and
    #   >= 250000; llm_input_tokens has included 0: no alert
    expected = json.loads(spec_invoice_json)
    assert invoice == expected
    assert json.dumps(invoice) == json.dumps(expected)  # same key order too


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        ("2.345", "2.35"),
        ("-2.345", "-2.35"),  # away from zero, not towards +infinity
        ("2.344", "2.34"),
        ("-2.344", "-2.34"),
        ("2.365", "2.37"),  # half-even would give 2.36
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        ("-0.004", "0.00"),  # no negative zero
        ("1016", "1016.00"),
    ],
)
def test_round_money_halves_away_from_zero(amount, rounded):
    assert money_text(round_money(D(amount))) == rounded
    assert str(round_money(D(amount))) == rounded


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        (D("12.50"), "12.5"),
        (D("1E+5"), "100000"),
        (D("0.00050"), "0.0005"),
        (D("5E-7"), "0.0000005"),
        (D("-0"), "0"),
        (D("0.000"), "0"),
        (103000, "103000"),
    ],
)
def test_quantity_text_is_exact_without_trailing_zeros_or_exponent(quantity, text):
    assert quantity_text(quantity) == text


def test_quantities_must_not_be_binary_floats():
    with pytest.raises(TypeError):
        quantity_text(0.1)


def test_period_bounds_are_half_open_months():
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_bounds("2026-13")


def test_utc_timestamp_converts_offsets_and_reads_naive_as_utc():
    paris = timezone(timedelta(hours=2))
    assert (
        utc_timestamp(datetime(2026, 11, 4, 4, 0, 0, 123, tzinfo=paris)) == "2026-11-04T02:00:00Z"
    )
    assert utc_timestamp(datetime(2026, 11, 4, 2, 0)) == "2026-11-04T02:00:00Z"


def test_unit_price_line_bills_above_included(spec_catalog):
    traces = spec_catalog.plans["growth"].prices["traces"]
    # 261337 - 250000 = 11337 billable x 0.0005 = 5.6685 -> 5.67
    assert line_json(rate_usage_line("traces", D("261337"), traces)) == {
        "type": "usage",
        "meter": "traces",
        "quantity": "261337",
        "included": "250000",
        "billable_quantity": "11337",
        "unit_price": "0.0005",
        "amount": "5.67",
    }
    # below included: billable max(0, 1000 - 250000) = 0
    below = line_json(rate_usage_line("traces", D("1000"), traces))
    assert (below["billable_quantity"], below["amount"]) == ("0", "0.00")


@pytest.mark.parametrize(
    ("usage", "tier_quantities", "tier_amounts", "amount"),
    [
        # included 1000; billable 99999, one below the 100000 bound: 99999 x 0.01 = 999.99
        ("100999", ("99999", "0"), ("999.99", "0.00"), "999.99"),
        # billable exactly 100000: all in tier 1, 100000 x 0.01 = 1000.00
        ("101000", ("100000", "0"), ("1000.00", "0.00"), "1000.00"),
        # billable 100001: 1000.00 + 1 x 0.008 = 1000.008 -> 1000.01 (tier 2 shown 0.008 -> 0.01)
        ("101001", ("100000", "1"), ("1000.00", "0.01"), "1000.01"),
        # usage within included: nothing billable
        ("500", ("0", "0"), ("0.00", "0.00"), "0.00"),
    ],
)
def test_graduated_tiers_at_below_and_above_a_bound(
    spec_catalog, usage, tier_quantities, tier_amounts, amount
):
    line = line_json(
        rate_usage_line("api_call", D(usage), spec_catalog.plans["growth"].prices["api_call"])
    )
    assert tuple(t["quantity"] for t in line["tiers"]) == tier_quantities
    assert tuple(t["amount"] for t in line["tiers"]) == tier_amounts
    assert [t["up_to"] for t in line["tiers"]] == ["100000", None]
    assert line["amount"] == amount
    assert "unit_price" not in line


def test_graduated_sum_is_rounded_once_not_per_tier():
    price = Price(
        included=D(0),
        tiers=[{"up_to": "1", "unit_price": "0.005"}, {"up_to": None, "unit_price": "0.005"}],
    )
    line = line_json(rate_usage_line("api_call", D(2), price))
    # each tier: 1 x 0.005 = 0.005, shown 0.01; line: 0.005 + 0.005 = 0.010 -> 0.01 (not 0.02)
    assert [t["amount"] for t in line["tiers"]] == ["0.01", "0.01"]
    assert line["amount"] == "0.01"


@pytest.mark.parametrize(
    ("calls", "subtotal", "discount", "total"),
    [
        # 99999 x 0.01 = 999.99 < 1000.00: no bracket; total 100.00 + 999.99
        (99999, "999.99", None, "1099.99"),
        # 100000 x 0.01 = 1000.00 reaches 1000.00: 5% = 50.00; 100.00 + 1000.00 - 50.00
        (100000, "1000.00", ("5", "-50.00"), "1050.00"),
        # 4999.99 x 5% = 249.9995 -> -250.00; 100.00 + 4999.99 - 250.00
        (499999, "4999.99", ("5", "-250.00"), "4849.99"),
        # 5000.00 reaches the 8% bracket (highest reached): 400.00; 100.00 + 5000.00 - 400.00
        (500000, "5000.00", ("8", "-400.00"), "4700.00"),
    ],
)
def test_volume_discount_bracket_edges(calls, subtotal, discount, total):
    catalog = flat_catalog(
        volume_discounts=[
            {"from_amount": "5000.00", "percent": "8"},  # listed out of order on purpose
            {"from_amount": "1000.00", "percent": "5"},
        ]
    )
    invoice = invoice_for(catalog, {"api_call": D(calls)})
    assert invoice["usage_subtotal"] == subtotal
    discount_lines = [line for line in invoice["lines"] if line["type"] == "discount"]
    if discount is None:
        assert discount_lines == []
        assert invoice["discount"] == "0.00"
    else:
        percent, amount = discount
        assert discount_lines == [
            {"type": "discount", "description": f"Volume discount {percent}%", "amount": amount}
        ]
        assert invoice["discount"] == amount
    assert invoice["total"] == total


def test_fractional_discount_percent_is_described_exactly():
    catalog = flat_catalog(volume_discounts=[{"from_amount": "0.00", "percent": "2.50"}])
    invoice = invoice_for(catalog, {"api_call": D(1000)})
    # 1000 x 0.01 = 10.00; 10.00 x 2.5% = 0.25
    assert invoice["lines"][-1] == {
        "type": "discount",
        "description": "Volume discount 2.5%",
        "amount": "-0.25",
    }


@pytest.mark.parametrize(
    ("calls", "true_up", "total"),
    [
        # subtotal 1000.00, discount -50.00: 2000.00 - 950.00 = 1050.00; 100 + 1000 - 50 + 1050
        (100000, "1050.00", "2100.00"),
        # no usage: subtotal 0.00, no discount: true-up 2000.00; 100 + 0 + 2000
        (0, "2000.00", "2100.00"),
        # subtotal 2500.00, discount 125.00: 2375.00 >= 2000.00, no true-up; 100 + 2500 - 125
        (250000, None, "2475.00"),
    ],
)
def test_minimum_commitment_true_up(calls, true_up, total):
    catalog = flat_catalog(
        minimum_commitment="2000.00",
        volume_discounts=[{"from_amount": "1000.00", "percent": "5"}],
    )
    invoice = invoice_for(catalog, {"api_call": D(calls)})
    true_up_lines = [line for line in invoice["lines"] if line["type"] == "true_up"]
    if true_up is None:
        assert true_up_lines == []
        assert invoice["true_up"] == "0.00"
    else:
        assert invoice["lines"][-1] == {
            "type": "true_up",
            "description": "Minimum commitment true-up",
            "amount": true_up,
        }
        assert invoice["true_up"] == true_up
    assert invoice["total"] == total


@pytest.mark.parametrize(
    ("traces", "thresholds"),
    [
        ("899", []),  # 899 < 0.9 x 1000 = 900
        ("900", ["0.9"]),  # exactly 0.9 x included
        ("999.5", ["0.9"]),
        ("1000", ["0.9", "1.0"]),  # exactly 1.0 x included
        ("5000", ["0.9", "1.0"]),
    ],
)
def test_alerts_at_exactly_90_and_100_percent_of_included(traces, thresholds):
    catalog = flat_catalog(
        prices={
            "api_call": {"included": 0, "unit_price": "0.01"},
            "traces": {"included": 1000, "unit_price": "0.001"},
        }
    )
    # api_call has included 0: never alerts, whatever the usage
    invoice = invoice_for(catalog, {"api_call": D(10**6), "traces": D(traces)})
    assert invoice["alerts"] == [
        {"meter": "traces", "threshold": t, "usage": traces, "included": "1000"} for t in thresholds
    ]


def test_alerts_are_ordered_by_meter_then_threshold_and_need_usage():
    catalog = flat_catalog(
        prices={
            "voice_minute": {"included": 10, "unit_price": "0.02"},
            "traces": {"included": 10, "unit_price": "0.001"},
            "api_call": {"included": 10, "unit_price": "0.01"},
        }
    )
    invoice = invoice_for(catalog, {"voice_minute": D(10), "api_call": D(9)})
    # api_call 9 >= 9 (0.9 x 10) only; traces unused: none; voice_minute 10 >= 9 and >= 10
    assert [(a["meter"], a["threshold"]) for a in invoice["alerts"]] == [
        ("api_call", "0.9"),
        ("voice_minute", "0.9"),
        ("voice_minute", "1.0"),
    ]


def test_fee_only_invoice_without_usage():
    invoice = invoice_for(flat_catalog(), {})
    assert invoice["usage"] == {}
    assert invoice["lines"] == [
        {"type": "fee", "description": "Flat monthly fee", "amount": "100.00"}
    ]
    assert (invoice["usage_subtotal"], invoice["discount"], invoice["true_up"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    assert invoice["total"] == "100.00"
    assert invoice["alerts"] == []
    assert invoice["invoice_number"] is None
    assert invoice["status"] == "draft"


def test_unpriced_meters_show_in_usage_but_get_no_line():
    invoice = invoice_for(flat_catalog(), {"voice_minute": D("12.50"), "api_call": D(3)})
    assert invoice["usage"] == {"api_call": "3", "voice_minute": "12.5"}
    assert [line.get("meter") for line in invoice["lines"]] == [None, "api_call"]
    # 3 x 0.01 = 0.03; 100.00 + 0.03
    assert invoice["total"] == "100.03"


def test_adjustments_are_ordered_by_period_then_meter_and_count_in_the_subtotal():
    def adjustment(period: str, meter: str, amount: str) -> dict[str, str]:
        return {
            "type": "adjustment",
            "meter": meter,
            "adjusts_invoice": f"INV-{period.replace('-', '')}-0001",
            "adjusts_period": period,
            "quantity": "1",
            "amount": amount,
        }

    adjustments = [
        adjustment("2026-09", "traces", "0.10"),
        adjustment("2026-08", "voice_minute", "0.00"),
        adjustment("2026-09", "api_call", "1.25"),
    ]
    invoice = invoice_for(flat_catalog(), {"api_call": D(100)}, adjustments)
    assert [(line.get("adjusts_period"), line.get("meter")) for line in invoice["lines"]] == [
        (None, None),
        (None, "api_call"),
        ("2026-08", "voice_minute"),
        ("2026-09", "api_call"),
        ("2026-09", "traces"),
    ]
    # usage 100 x 0.01 = 1.00; + 0.00 + 1.25 + 0.10 = 2.35; total 100.00 + 2.35
    assert invoice["usage_subtotal"] == "2.35"
    assert invoice["total"] == "102.35"


@pytest.mark.parametrize(
    ("billed", "now", "quantity", "amount"),
    [
        # both within the 250000 included: the usage changed, the money did not
        ("1000", "2000", "1000", "0.00"),
        # 1 billable x 0.0005 = 0.0005 -> 0.00; 2 x 0.0005 = 0.001 -> 0.00
        ("250001", "250002", "1", "0.00"),
        # 10 x 0.0005 = 0.005 -> 0.01; minus 0.00
        ("250001", "250010", "9", "0.01"),
        # rounded price now - rounded price billed: 5.06 - 5.00
        ("260000", "260120", "120", "0.06"),
    ],
)
def test_adjustment_is_the_difference_of_rounded_prices(
    spec_catalog, billed, now, quantity, amount
):
    traces = spec_catalog.plans["growth"].prices["traces"]
    line = line_json(
        rate_adjustment_line("traces", traces, D(now), D(billed), "INV-202609-0001", "2026-09")
    )
    assert line == {
        "type": "adjustment",
        "meter": "traces",
        "adjusts_invoice": "INV-202609-0001",
        "adjusts_period": "2026-09",
        "quantity": quantity,
        "amount": amount,
    }


def test_adjustment_of_an_unpriced_meter_is_zero():
    line = line_json(
        rate_adjustment_line("voice_minute", None, D("7.5"), D(5), "INV-202609-0001", "2026-09")
    )
    assert (line["quantity"], line["amount"]) == ("2.5", "0.00")


def test_rating_a_tenant_without_plan_is_refused(spec_catalog):
    with pytest.raises(ValueError, match="no plan in force"):
        rate_invoice(spec_catalog, "globex", "2026-10", {}, [], GENERATED_AT, "draft", None)
