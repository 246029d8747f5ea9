"""Invoice lifecycle (SPEC §5): drafts, finalization, numbering, the ledger and adjustments.

`issue_month` writes `home/invoices/YYYY-MM/` as drafts until the month's grace period is over, then
finalizes it once, numbering invoices gaplessly. What every final invoice billed, per (period,
meter), is kept in `home/state/billing/ledger/YYYY-MM.json`, outside `invoices/` (SPEC 6): the
ledger file is both the month's "final" marker and the basis of the adjustment lines that bill
late usage of final periods exactly once. The files themselves (SPEC §6) are written by
`orchestration.billing.invoice_files`.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from orchestration.billing.catalog import Catalog, Price
from orchestration.billing.invoice import Invoice, Line
from orchestration.billing.invoice_files import (
    final_invoice_file,
    fsync_directory,
    invoice_from_json,
    invoice_line_rows,
    json_bytes,
    write_atomic,
    write_month_folder,
)
from orchestration.billing.rating import (
    EXACT,
    ZERO,
    as_utc,
    period_bounds,
    quantity_text,
    rate_adjustment_line,
    rate_invoice,
    utc_timestamp,
)
from orchestration.billing.state import LEDGER, state_dir

_TOTAL_KEYS = ("monthly_fee", "usage_subtotal", "discount", "true_up", "total")

Usage = Mapping[str, Decimal]


@dataclass(frozen=True)
class IssueResult:
    """Outcome of one `issue_month` run.

    status: `draft`, `final` (finalized by this run) or `already_final` (nothing was written).
    lines: rows of the warehouse table `fct_invoice_lines` (columns `LINE_COLUMNS`).
    """

    status: str
    month: str
    folder: Path
    invoices: list[Invoice]
    lines: list[dict[str, Any]]
    unbilled: list[dict[str, str]]


def money_check(invoice: Invoice) -> list[str]:
    """Money problems of one invoice for a reconciliation check; an empty list means it adds up.

    Checks that every amount has exactly 2 decimals, total = monthly_fee + usage_subtotal +
    discount + true_up, usage_subtotal = sum of usage and adjustment lines, and that the fee,
    discount and true-up lines carry the invoice's monthly_fee, discount and true_up.
    """
    label = invoice.invoice_number or f"draft invoice of {invoice.tenant_id!r}"
    amounts = [getattr(invoice, key) for key in _TOTAL_KEYS]
    amounts += [line.amount for line in invoice.lines]
    # an amount is whole cents, written with exactly two decimals (`12.30`, never `12.3`)
    malformed = [a for a in amounts if not a.is_finite() or a.as_tuple().exponent != -2]
    if malformed:
        return [
            f"{label}: amount {format(a, 'f')!r} does not have exactly 2 decimals"
            for a in malformed
        ]
    with localcontext(EXACT):
        by_type: dict[str, Decimal] = defaultdict(Decimal)
        for line in invoice.lines:
            by_type[line.type] += line.amount
        fee, subtotal, discount, true_up, total = (getattr(invoice, key) for key in _TOTAL_KEYS)
        problems = []
        if total != fee + subtotal + discount + true_up:
            problems.append(
                f"{label}: total {total} != monthly_fee + usage_subtotal + discount + true_up "
                f"({fee + subtotal + discount + true_up})"
            )
        if subtotal != by_type["usage"] + by_type["adjustment"]:
            problems.append(
                f"{label}: usage_subtotal {subtotal} != sum of usage and adjustment lines "
                f"({by_type['usage'] + by_type['adjustment']})"
            )
        for key, line_type in (
            ("monthly_fee", "fee"),
            ("discount", "discount"),
            ("true_up", "true_up"),
        ):
            if getattr(invoice, key) != by_type[line_type]:
                problems.append(
                    f"{label}: {key} {getattr(invoice, key)} != {line_type} lines "
                    f"({by_type[line_type]})"
                )
    return problems


def issue_month(
    home: Path,
    month: str,
    now: datetime,
    catalog: Catalog,
    monthly_usage: Mapping[tuple[str, str], Usage],
    record_invoices: Callable[[Sequence[Invoice], bool], None] | None = None,
) -> IssueResult:
    """Write (draft) or finalize the invoices of billing period `month` under `home/invoices/`.

    `monthly_usage` maps (tenant_id, 'YYYY-MM') to the exact usage per meter, for every month known,
    so that late usage of finalized periods becomes adjustment lines. Before the period end plus
    `grace_period_days` every run rewrites the drafts; the first run at or after it finalizes
    (numbers `INV-YYYYMM-0001`... in UTF-8 byte order of tenant_id); a final month is never
    rewritten and later runs return `already_final` with the invoices as written.
    `record_invoices(invoices, final)` is called once the month's files are written and before the
    ledger file makes the month final, so whatever it records is never missing for a final month.
    """
    start, end = period_bounds(month)
    folder = home / "invoices" / month
    ledger_dir = state_dir(home, LEDGER)
    ledger = _load_ledger(ledger_dir)
    if month in ledger:
        return _final_month(folder, month, ledger[month])

    finalizes_at = datetime.combine(end, time(), UTC) + timedelta(days=catalog.grace_period_days)
    final = as_utc(now) >= finalizes_at
    usage = {tenant: u for (tenant, period), u in monthly_usage.items() if period == month and u}
    adjustments = _pending_adjustments(ledger, month, monthly_usage)
    tenants = set(usage) | set(adjustments) | set(catalog.subscribed_tenants(start))
    invoices: list[Invoice] = []
    unbilled: list[dict[str, str]] = []
    for tenant in sorted(tenants, key=_byte_order):
        tenant_usage = usage.get(tenant, {})
        if catalog.plan_for(tenant, start) is None:
            unbilled += [
                {"tenant_id": tenant, "meter": meter, "quantity": quantity_text(quantity)}
                for meter, quantity in sorted(tenant_usage.items())
            ]
            continue
        number = f"INV-{start:%Y%m}-{len(invoices) + 1:04d}" if final else None
        invoices.append(
            rate_invoice(
                catalog,
                tenant,
                month,
                tenant_usage,
                adjustments.get(tenant, []),
                now,
                "final" if final else "draft",
                number,
            )
        )

    line_rows = write_month_folder(folder, invoices, unbilled)
    if record_invoices is not None:
        record_invoices(invoices, final)
    if final:  # the ledger file is written last: it is what declares the month final
        prices = {i.plan: _price_snapshot(catalog.plans[i.plan].prices) for i in invoices}
        entries = {i.tenant_id: _ledger_entry(i, prices[i.plan]) for i in invoices}
        document = {"period": month, "finalized_at": utc_timestamp(now), "invoices": entries}
        write_atomic(ledger_dir / f"{month}.json", json_bytes(document))
        fsync_directory(ledger_dir)
    return IssueResult(
        status="final" if final else "draft",
        month=month,
        folder=folder,
        invoices=invoices,
        lines=[row for rows in line_rows for row in rows],
        unbilled=unbilled,
    )


def _byte_order(tenant_id: str) -> bytes:
    return tenant_id.encode("utf-8")


def _load_ledger(ledger_dir: Path) -> dict[str, dict[str, Any]]:
    """Final months: month -> tenant_id -> {invoice_number, plan, prices, billed}."""
    if not ledger_dir.is_dir():
        return {}
    ledger = {}
    for path in sorted(ledger_dir.glob("*.json")):
        document = json.loads(path.read_bytes())
        ledger[document["period"]] = document["invoices"]
    return ledger


def _price_snapshot(prices: Mapping[str, Price]) -> dict[str, Any]:
    """A plan's meter prices as JSON, complete (`up_to: null` of a last tier included), so that
    `Price.model_validate` reads them back."""
    return {meter: price.model_dump(mode="json") for meter, price in prices.items()}


def _ledger_entry(invoice: Invoice, prices: Mapping[str, Any]) -> dict[str, Any]:
    """What a final invoice billed: its own usage, plus the usage change of each adjusted
    (period, meter); and the prices it was rated with (`_price_snapshot`), for adjusting it
    later."""
    billed = {invoice.month: {m: quantity_text(q) for m, q in invoice.usage.items()}}
    for line in invoice.lines:
        if line.type == "adjustment":
            billed.setdefault(line.adjusts_period, {})[line.meter] = quantity_text(line.quantity)
    return {
        "invoice_number": invoice.invoice_number,
        "plan": invoice.plan,
        "prices": prices,
        "billed": billed,
    }


def _pending_adjustments(
    ledger: Mapping[str, Mapping[str, Any]],
    month: str,
    monthly_usage: Mapping[tuple[str, str], Usage],
) -> dict[str, list[Line]]:
    """Adjustment lines per tenant for every final period before `month` whose usage changed
    since it was billed; billed so far = the final invoice's usage + adjustments on final invoices.
    """
    with localcontext(EXACT):
        billed: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        for entries in ledger.values():
            for tenant, entry in entries.items():
                for period, quantities in entry["billed"].items():
                    for meter, quantity in quantities.items():
                        billed[tenant, period][meter] += Decimal(quantity)
        pending: dict[str, list[Line]] = defaultdict(list)
        # a period's entries of one plan carry the same snapshot: each price is validated once
        prices: dict[tuple[str, str, str], Price | None] = {}
        for period in sorted(p for p in ledger if p < month):
            for tenant, entry in ledger[period].items():
                usage_now = monthly_usage.get((tenant, period), {})
                billed_so_far = billed[tenant, period]
                for meter in sorted(set(usage_now) | set(billed_so_far)):
                    now_quantity = usage_now.get(meter, ZERO)
                    if now_quantity == billed_so_far.get(meter, ZERO):
                        continue
                    key = (period, entry["plan"], meter)
                    if key not in prices:
                        price = entry["prices"].get(meter)
                        prices[key] = None if price is None else Price.model_validate(price)
                    pending[tenant].append(
                        rate_adjustment_line(
                            meter,
                            prices[key],
                            now_quantity,
                            billed_so_far.get(meter, ZERO),
                            entry["invoice_number"],
                            period,
                        )
                    )
    return pending


def _final_month(folder: Path, month: str, entries: Mapping[str, Any]) -> IssueResult:
    """The result of a month finalized earlier, read back from its files (which stay untouched)."""
    invoices = [
        invoice_from_json(json.loads(final_invoice_file(folder, tenant).read_bytes()))
        for tenant in sorted(entries, key=_byte_order)
    ]
    with open(folder / "unbilled.csv", encoding="utf-8", newline="") as handle:
        unbilled = list(csv.DictReader(handle))
    return IssueResult(
        status="already_final",
        month=month,
        folder=folder,
        invoices=invoices,
        lines=[row for invoice in invoices for row in invoice_line_rows(invoice)],
        unbilled=unbilled,
    )
