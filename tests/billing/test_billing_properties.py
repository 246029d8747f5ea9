"""Property tests: invoices always add up; final months never change; late usage billed once."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.billing.catalog import Catalog
from orchestration.billing.invoice_files import invoice_json
from orchestration.billing.lifecycle import issue_month, money_check
from orchestration.billing.rating import rate_adjustment_line, rate_invoice

METERS = ("api_call", "traces", "voice_minute")
MONEY = re.compile(r"-?\d+\.\d\d")
QUANTITY = re.compile(r"-?(0|[1-9]\d*)(\.\d*[1-9])?")  # no exponent, no trailing zeros

cents = st.decimals(min_value=0, max_value=100_000, places=2)
unit_prices = st.decimals(min_value=0, max_value=Decimal("0.5"), places=6)
quantities = st.decimals(min_value=0, max_value=10**7, places=3)


@st.composite
def meter_prices(draw: st.DrawFn) -> dict[str, Any]:
    included = str(draw(st.decimals(min_value=0, max_value=10**5, places=2)))
    if draw(st.booleans()):
        return {"included": included, "unit_price": str(draw(unit_prices))}
    bounds = sorted(draw(st.sets(st.integers(1, 10**6), max_size=3)))
    tiers = [{"up_to": b, "unit_price": str(draw(unit_prices))} for b in [*bounds, None]]
    return {"included": included, "tiers": tiers}


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    brackets = draw(st.dictionaries(cents, st.decimals(0, 100, places=2), max_size=3))
    plan = {
        "name": "Any",
        "monthly_fee": str(draw(cents)),
        "minimum_commitment": draw(st.none() | cents.map(str)),
        "prices": {m: draw(meter_prices()) for m in sorted(draw(st.sets(st.sampled_from(METERS))))},
        "volume_discounts": [
            {"from_amount": str(a), "percent": str(p)} for a, p in brackets.items()
        ],
    }
    return Catalog.model_validate(
        {
            "currency": "USD",
            "default_plan": "any",
            "meters": {meter: {"unit": "unit"} for meter in METERS},
            "plans": {"any": plan},
        }
    )


@settings(max_examples=300)
@given(
    catalog=catalogs(),
    usage=st.dictionaries(st.sampled_from(METERS), quantities),
    late=st.lists(st.tuples(st.sampled_from(METERS), quantities, quantities), max_size=3),
)
def test_invoice_total_is_the_sum_of_its_lines(catalog, usage, late):
    plan = catalog.plans["any"]
    adjustments = [
        rate_adjustment_line(
            meter, plan.prices.get(meter), now, billed, "INV-202609-0001", "2026-09"
        )
        for meter, now, billed in late
    ]
    rated = rate_invoice(
        catalog,
        "t",
        "2026-10",
        usage,
        adjustments,
        datetime(2026, 11, 4, tzinfo=UTC),
        "draft",
        None,
    )

    assert money_check(rated) == []
    invoice = invoice_json(rated)  # the strings the invoice file holds
    line_amounts = [Decimal(line["amount"]) for line in invoice["lines"]]
    assert Decimal(invoice["total"]) == sum(line_amounts)
    discount, true_up = Decimal(invoice["discount"]), Decimal(invoice["true_up"])
    assert discount <= 0 <= true_up
    if plan.minimum_commitment is not None:
        assert Decimal(invoice["usage_subtotal"]) + discount + true_up >= plan.minimum_commitment
    amounts = [
        invoice[k] for k in ("monthly_fee", "usage_subtotal", "discount", "true_up", "total")
    ]
    assert all(MONEY.fullmatch(a) for a in amounts + [line["amount"] for line in invoice["lines"]])
    numbers = [*invoice["usage"].values()]
    numbers += [line[k] for line in invoice["lines"] for k in ("quantity", "included") if k in line]
    assert all(QUANTITY.fullmatch(number) for number in numbers)


TENANTS = ("acme", "B", "é")
MONTHS = ("2026-09", "2026-10", "2026-11")
SUBSCRIBED_CATALOG = Catalog.model_validate(
    {
        "currency": "USD",
        "grace_period_days": 3,
        "meters": {meter: {"unit": "unit"} for meter in METERS},
        "plans": {
            "basic": {
                "name": "Basic",
                "monthly_fee": "100.00",
                "prices": {
                    "traces": {"included": 1000, "unit_price": "0.001"},
                    "api_call": {"included": 0, "unit_price": "0.01"},
                },
            }
        },
        "subscriptions": [
            {"tenant_id": t, "plan": "basic", "start": "2026-09-01"} for t in TENANTS
        ],
    }
)
late_usage = st.tuples(
    st.just("late"),
    st.sampled_from(TENANTS),
    st.sampled_from(MONTHS),
    st.sampled_from(METERS),
    st.decimals(min_value=0, max_value=5000, places=1),
)
runs = st.tuples(st.just("run"), st.sampled_from(MONTHS), st.integers(0, 120))


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@settings(max_examples=25, deadline=None)
@given(
    initial=st.dictionaries(
        st.tuples(st.sampled_from(TENANTS), st.sampled_from(MONTHS)),
        st.dictionaries(st.sampled_from(METERS), quantities, min_size=1),
    ),
    steps=st.lists(late_usage | runs, max_size=8),
)
def test_final_months_never_change_and_late_usage_is_billed_exactly_once(initial, steps):
    usage = defaultdict(dict, {key: dict(meters) for key, meters in initial.items()})
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        invoices = home / "invoices"
        issue_month(home, "2026-09", datetime(2026, 10, 4, tzinfo=UTC), SUBSCRIBED_CATALOG, usage)
        final_files = {"2026-09": folder_hashes(invoices / "2026-09")}
        for step in steps:
            if step[0] == "late":  # usage only grows (SPEC §2: ingested usage never goes away)
                _, tenant, month, meter, extra = step
                usage[tenant, month][meter] = usage[tenant, month].get(meter, Decimal(0)) + extra
                continue
            _, month, days = step
            now = datetime(2026, 9, 15, tzinfo=UTC) + timedelta(days=days)
            result = issue_month(home, month, now, SUBSCRIBED_CATALOG, usage)
            if result.status == "final":
                final_files[month] = folder_hashes(invoices / month)
            for final_month, hashes in final_files.items():
                assert folder_hashes(invoices / final_month) == hashes

        # what final invoices billed + what a fresh draft still bills = the usage now, for every
        # final period, tenant and meter: nothing lost, nothing billed twice
        billed: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for month in final_files:
            for path in (invoices / month).glob("*.json"):
                if path.name == "manifest.json":
                    continue
                invoice = json.loads(path.read_text(encoding="utf-8"))
                for meter, quantity in invoice["usage"].items():
                    billed[invoice["tenant_id"], month, meter] += Decimal(quantity)
                for line in invoice["lines"]:
                    if line["type"] == "adjustment":
                        key = (invoice["tenant_id"], line["adjusts_period"], line["meter"])
                        billed[key] += Decimal(line["quantity"])
        draft = issue_month(
            home, "2027-06", datetime(2027, 6, 15, tzinfo=UTC), SUBSCRIBED_CATALOG, usage
        )
        for invoice in map(invoice_json, draft.invoices):
            for line in invoice["lines"]:
                if line["type"] == "adjustment":
                    key = (invoice["tenant_id"], line["adjusts_period"], line["meter"])
                    billed[key] += Decimal(line["quantity"])
        expected = {
            (tenant, month, meter): quantity
            for (tenant, month), meters in usage.items()
            if month in final_files
            for meter, quantity in meters.items()
        }
        assert {key: q for key, q in billed.items() if q} == {
            k: q for k, q in expected.items() if q
        }
