"""Typed invoices (issue 10): `Invoice` holds exact `Decimal`s from rating to the files, and the
SPEC 6 strings read back into the same `Invoice`."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import yaml

from orchestration.billing.catalog import Catalog, parse_catalog
from orchestration.billing.invoice import Invoice, Line
from orchestration.billing.invoice_files import invoice_from_json, invoice_json
from orchestration.billing.rating import rate_adjustment_line, rate_invoice

D = Decimal
GENERATED_AT = datetime(2026, 11, 4, 2, 0, 0, 999999, tzinfo=UTC)


def catalog() -> Catalog:
    """Plan `flat`: fee 100.00; api_call 0.01 each with 1000 included; voice_minute unpriced."""
    document = {
        "currency": "USD",
        "default_plan": "flat",
        "meters": {"api_call": {"unit": "call"}, "voice_minute": {"unit": "minute"}},
        "plans": {
            "flat": {
                "name": "Flat",
                "monthly_fee": "100.00",
                "prices": {"api_call": {"included": 1000, "unit_price": "0.01"}},
            }
        },
    }
    return parse_catalog(yaml.safe_dump(document))


def adjustment(period: str, amount: str) -> Line:
    return Line(
        type="adjustment",
        meter="api_call",
        adjusts_invoice=f"INV-{period.replace('-', '')}-0001",
        adjusts_period=period,
        quantity=D(10),
        amount=D(amount),
    )


def rated(usage: dict[str, Decimal], adjustments=()) -> Invoice:
    return rate_invoice(
        catalog(), "acme", "2026-10", usage, list(adjustments), GENERATED_AT, "final", "INV-1"
    )


def through_file(invoice: Invoice) -> Invoice:
    """The invoice written as its JSON file's text and read back."""
    return invoice_from_json(json.loads(json.dumps(invoice_json(invoice))))


def test_cents_add_up_exactly_through_rating_and_the_file():
    assert 0.1 + 0.2 != 0.3  # what binary floats would have billed
    invoice = rated({}, [adjustment("2026-08", "0.10"), adjustment("2026-09", "0.20")])
    # subtotal 0.10 + 0.20 = 0.30 exactly; total 100.00 + 0.30
    assert invoice.usage_subtotal == D("0.30")
    assert invoice.total == D("100.30")
    assert invoice_json(invoice)["usage_subtotal"] == "0.30"
    back = through_file(invoice)
    assert back == invoice
    assert back.usage_subtotal == D("0.3") and back.usage_subtotal.as_tuple().exponent == -2


def test_quantities_keep_all_their_decimals_through_the_file():
    usage = {"api_call": D("123456.123456789012"), "voice_minute": D("0.000000000001")}
    invoice = rated(usage)
    back = through_file(invoice)
    assert back == invoice
    assert back.usage == usage
    assert str(back.usage["voice_minute"]) == "1E-12"
    assert invoice_json(invoice)["usage"]["voice_minute"] == "0.000000000001"
    [_, api_call] = back.lines
    # billable 123456.123456789012 - 1000 = 122456.123456789012
    assert api_call.billable_quantity == D("122456.123456789012")
    # 122456.123456789012 x 0.01 = 1224.56123456789012 -> 1224.56, rounded once by rating
    assert api_call.amount == D("1224.56")


def test_amounts_and_quantities_are_decimals_not_strings():
    invoice = rated(
        {"api_call": D(1500)},
        [rate_adjustment_line("api_call", None, D(3), D(1), "INV-202609-0001", "2026-09")],
    )
    for typed in (invoice, through_file(invoice)):
        for line in typed.lines:
            assert type(line.amount) is Decimal
        usage_line = next(line for line in typed.lines if line.type == "usage")
        assert type(usage_line.quantity) is Decimal
        assert type(usage_line.unit_price) is Decimal
        assert type(typed.total) is Decimal
        assert all(type(q) is Decimal for q in typed.usage.values())
        assert all(type(a.threshold) is Decimal for a in typed.alerts)


def test_every_part_of_the_spec_example_reads_back_equal(spec_invoice_json):
    document = json.loads(spec_invoice_json)
    invoice = invoice_from_json(document)
    assert invoice.period_start.isoformat() == "2026-10-01"
    assert invoice.month == "2026-10"
    assert invoice.lines[1].tiers is not None and invoice.lines[1].tiers[1].up_to is None
    written = invoice_json(invoice)
    assert written == document
    assert json.dumps(written) == json.dumps(document)  # same key order too
    assert invoice_from_json(written) == invoice


def test_generated_at_is_kept_to_the_second_as_the_file_writes_it():
    invoice = rated({})
    assert invoice.generated_at == datetime(2026, 11, 4, 2, 0, 0, tzinfo=UTC)
    assert through_file(invoice) == invoice


def test_an_amount_not_rounded_to_cents_is_refused_when_written():
    # rounding belongs to rating (SPEC 4); the file writer never rounds an amount silently
    invoice = rated({})
    fee = dataclasses.replace(invoice.lines[0], amount=D("100.005"))
    with pytest.raises(ValueError, match="not rounded to cents"):
        invoice_json(dataclasses.replace(invoice, lines=(fee,)))


def test_invoices_are_frozen():
    invoice = rated({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        invoice.total = D(0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        invoice.lines[0].amount = D(0)  # type: ignore[misc]
