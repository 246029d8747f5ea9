"""fct_invoice_records over three months with late and backdated data (SPEC 5, 7), and
`meterline explain` on the same invoices (SPEC 8).

One tenant `acme` on plan `basic` (api_call at 0.01, nothing included), raw `events` files built by
hand, each delivery ingested and dbt run as it would arrive; invoices issued with the real
lifecycle and the records written from the warehouse's fct_usage_records. Every expected row is
worked out by hand from SPEC 2.5 (first delivered wins) and SPEC 5 (adjustment = usage now - usage
billed so far), never read back from the code.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from helpers import CATALOG_METERS
from meterline_harness import Home

from orchestration.billing.catalog import parse_catalog
from orchestration.billing.explain import NoSuchInvoiceError, explain_invoice
from orchestration.billing.invoice import Invoice
from orchestration.billing.invoice_files import invoice_json
from orchestration.billing.invoice_records import (
    invoice_records_dir,
    record_invoice_records,
    records_problems,
)
from orchestration.billing.lifecycle import issue_month

# lifecycle: months of runs and invoicing, end to end (make test-slow)
pytestmark = pytest.mark.slow

CATALOG = (
    """\
currency: USD
grace_period_days: 3
"""
    + CATALOG_METERS
    + """\
plans:
  basic:
    name: Basic
    monthly_fee: "100.00"
    prices:
      api_call: {included: 0, unit_price: "0.01"}
subscriptions:
  - {tenant_id: acme, plan: basic, start: 2026-09-01}
"""
)


def event(key: str, tenant: str, quantity: int, at: str) -> dict:
    return {"id": key, "business_id": tenant, "event_type": "api_call", "quantity": quantity,
            "created_at": at}  # fmt: skip


def key(event_id: str) -> str:
    return f"events:{event_id}:api_call"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def issue(home: Home, month: str, now: str):
    """Invoice `month` from the warehouse as `meterline invoice` does from the published marts."""
    usage: dict = {}
    for tenant, period, meter, quantity in home.query(
        "SELECT tenant_id, strftime(usage_month, '%Y-%m'), meter, quantity "
        "FROM tenant_monthly_usage"
    ):
        usage.setdefault((tenant, period), {})[meter] = quantity

    def record(invoices, final):
        record_invoice_records(home.root, month, invoices, final, home.warehouse)

    result = issue_month(home.root, month, at(now), parse_catalog(CATALOG), usage, record)
    assert records_problems(home.root, month, result.invoices) == []
    return result


def records(home: Home, month: str) -> list[tuple]:
    path = invoice_records_dir(home.root) / f"{month}.parquet"
    return [
        (line_type, adjusts, record_key, quantity, number)
        for line_type, adjusts, record_key, quantity, number in duckdb.sql(
            "SELECT line_type, adjusts_period, record_key, quantity, invoice_number "
            f"FROM read_parquet('{path}') ORDER BY line_type DESC, adjusts_period, record_key"
        ).fetchall()
    ]


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("lifecycle"))
    home.write_catalog(CATALOG)

    # September: e1 (5) and e2 (3) arrive on 09-10; finalized on 10-04 with api_call 8.
    home.deliver("events", "2026-09-10", "a.jsonl", [
        event("e1", "acme", 5, "2026-09-05T10:00:00Z"),
        event("e2", "acme", 3, "2026-09-06T10:00:00Z"),
    ])  # fmt: skip
    home.ingest("2026-09-10")
    home.dbt_run()
    home.sep = issue(home, "2026-09", "2026-10-04T00:00:00Z")
    home.sep_records = records(home, "2026-09")

    # October: e4 (10) for October, e3 (2) late for September, and two backdated files in
    # delivery folders older than 09-10: their copies of e1 and e2 now win (SPEC 2.5).
    # e1 becomes 7 (conflict, earlier delivery), e2 moves to tenant beta (no plan): acme's
    # September record e2 is no longer in the marts.
    home.deliver("events", "2026-10-10", "b.jsonl", [
        event("e4", "acme", 10, "2026-10-08T10:00:00Z"),
        event("e3", "acme", 2, "2026-09-20T10:00:00Z"),
    ])  # fmt: skip
    home.deliver(
        "events", "2026-09-09", "z.jsonl", [event("e1", "acme", 7, "2026-09-05T10:00:00Z")]
    )
    home.deliver(
        "events", "2026-09-08", "z.jsonl", [event("e2", "beta", 3, "2026-09-06T10:00:00Z")]
    )
    home.ingest("2026-10-10", "2026-09-09", "2026-09-08")
    home.dbt_run()
    home.oct = issue(home, "2026-10", "2026-11-04T00:00:00Z")
    home.oct_records = records(home, "2026-10")

    # November: e7 (6); late e5 (4) for September and e6 (1) for October; e4 backdated to 12 by a
    # copy in folder 10-09 (before 10-10). Drafted on 11-20, then finalized on 12-04.
    home.deliver("events", "2026-11-10", "c.jsonl", [
        event("e7", "acme", 6, "2026-11-05T10:00:00Z"),
        event("e5", "acme", 4, "2026-09-25T10:00:00Z"),
    ])  # fmt: skip
    home.deliver(
        "events", "2026-11-01", "c.jsonl", [event("e6", "acme", 1, "2026-10-30T10:00:00Z")]
    )
    home.deliver(
        "events", "2026-10-09", "y.jsonl", [event("e4", "acme", 12, "2026-10-08T10:00:00Z")]
    )
    home.ingest("2026-11-10", "2026-11-01", "2026-10-09")
    home.dbt_run()
    home.nov_draft = issue(home, "2026-11", "2026-11-20T00:00:00Z")
    home.nov_draft_records = records(home, "2026-11")
    home.nov = issue(home, "2026-11", "2026-12-04T00:00:00Z")
    home.nov_records = records(home, "2026-11")
    return home


def lines(typed: Invoice) -> list[tuple]:
    invoice = invoice_json(typed)  # the strings of the invoice file
    return [
        (line["type"], line.get("adjusts_period"), line["quantity"])
        for line in invoice["lines"]
        if line["type"] in ("usage", "adjustment")
    ]


def test_september_bills_its_two_records(lifecycle: Home) -> None:
    [invoice] = lifecycle.sep.invoices
    assert lines(invoice) == [("usage", None, "8")]
    assert lifecycle.sep_records == [
        ("usage", None, key("e1"), Decimal(5), "INV-202609-0001"),
        ("usage", None, key("e2"), Decimal(3), "INV-202609-0001"),
    ]


def test_october_adjusts_september_record_by_record(lifecycle: Home) -> None:
    [invoice] = lifecycle.oct.invoices
    # September now: e1 7 + e3 2 = 9 (e2 went to beta); billed 8 -> adjustment +1
    assert lines(invoice) == [("usage", None, "10"), ("adjustment", "2026-09", "1")]
    number = "INV-202610-0001"
    assert lifecycle.oct_records == [
        ("usage", None, key("e4"), Decimal(10), number),
        # e1: 7 now - 5 billed; e2 no longer acme's: -3 billed, negated; e3 new: +2
        ("adjustment", "2026-09", key("e1"), Decimal(2), number),
        ("adjustment", "2026-09", key("e2"), Decimal(-3), number),
        ("adjustment", "2026-09", key("e3"), Decimal(2), number),
    ]


def test_november_adjusts_both_final_months_and_keeps_its_draft_rows(lifecycle: Home) -> None:
    [draft] = lifecycle.nov_draft.invoices
    # Sep: e1 7 + e3 2 + e5 4 = 13, billed 8 + 1 = 9 -> +4; Oct: e4 12 + e6 1 = 13, billed 10 -> +3
    assert lines(draft) == [
        ("usage", None, "6"),
        ("adjustment", "2026-09", "4"),
        ("adjustment", "2026-10", "3"),
    ]
    expected = [
        ("usage", None, key("e7"), Decimal(6)),
        ("adjustment", "2026-09", key("e5"), Decimal(4)),
        ("adjustment", "2026-10", key("e4"), Decimal(2)),
        ("adjustment", "2026-10", key("e6"), Decimal(1)),
    ]
    assert lifecycle.nov_draft_records == [(*row, None) for row in expected]
    assert lifecycle.nov_records == [(*row, "INV-202611-0001") for row in expected]


def test_rows_of_every_line_add_up_to_its_quantity(lifecycle: Home) -> None:
    for result, rows in (
        (lifecycle.sep, lifecycle.sep_records),
        (lifecycle.oct, lifecycle.oct_records),
        (lifecycle.nov, lifecycle.nov_records),
    ):
        [invoice] = result.invoices
        sums: dict = {}
        for line_type, adjusts, _, quantity, _ in rows:
            sums[line_type, adjusts] = sums.get((line_type, adjusts), 0) + quantity
        assert sums == {(t, p): Decimal(q) for t, p, q in lines(invoice)}


def test_billing_state_lives_outside_invoices(lifecycle: Home) -> None:
    hidden = [p for p in (lifecycle.root / "invoices").rglob(".*")]
    assert hidden == []
    state = lifecycle.root / "state" / "billing"
    assert sorted(p.name for p in (state / "ledger").iterdir()) == [
        "2026-09.json", "2026-10.json", "2026-11.json",
    ]  # fmt: skip
    assert sorted(p.name for p in (state / "billed_records").iterdir()) == [
        "2026-09.parquet", "2026-10.parquet", "2026-11.parquet",
    ]  # fmt: skip


def test_explain_lists_each_line_with_its_records_and_raw_lines(
    lifecycle: Home, tmp_path: Path
) -> None:
    target = tmp_path / "oct.csv"
    explanation = explain_invoice(lifecycle.root, "2026-10", "acme", csv_path=target)
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [
        (r["line_type"], r["adjusts_period"], r["record_key"], r["quantity"], r["raw_file"],
         r["raw_line"], r["delivery_date"])
        for r in rows
    ] == [
        # October's records were frozen when it was finalized: e4 as it was then (10, b.jsonl)
        ("usage", "", key("e4"), "10", "events/2026-10-10/b.jsonl", "1", "2026-10-10"),
        ("adjustment", "2026-09", key("e1"), "2", "events/2026-09-09/z.jsonl", "1", "2026-09-09"),
        # e2 is no longer acme's: shown where it was billed from, quantity negated
        ("adjustment", "2026-09", key("e2"), "-3", "events/2026-09-10/a.jsonl", "2", "2026-09-10"),
        ("adjustment", "2026-09", key("e3"), "2", "events/2026-10-10/b.jsonl", "2", "2026-10-10"),
    ]  # fmt: skip
    text = explanation.text
    assert "usage api_call: 10  amount 0.10" in text
    assert "adjustment api_call of 2026-09 (adjusts INV-202609-0001): 1" in text
    assert "events/2026-10-10/b.jsonl" in text


def test_explain_without_such_invoice_raises(lifecycle: Home) -> None:
    with pytest.raises(NoSuchInvoiceError):
        explain_invoice(lifecycle.root, "2026-10", "nobody")
    with pytest.raises(NoSuchInvoiceError):
        explain_invoice(lifecycle.root, "2025-01", "acme")
