"""Rating (SPEC §4): price a tenant's monthly usage into the SPEC §6 `Invoice`.

All arithmetic runs in `EXACT`, a decimal context whose precision never rounds and which traps
any inexact operation, so money is only rounded where SPEC says: once per line, half away from zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from orchestration.billing.catalog import Catalog, Price, Tier
from orchestration.billing.invoice import Alert, Invoice, Line
from orchestration.billing.invoice import Tier as InvoiceTier

EXACT = Context(
    prec=MAX_PREC,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
_ROUNDING = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
CENT = Decimal("0.01")
ALERT_THRESHOLDS = ("0.9", "1.0")
SCHEMA_VERSION = 1
ZERO = Decimal(0)


def round_money(amount: Decimal) -> Decimal:
    """Round to cents, half away from zero (2.345 -> 2.35, -2.345 -> -2.35); never `-0.00`."""
    # ROUND_HALF_UP in Python's decimal module rounds halves away from zero, also for negatives
    cents = amount.quantize(CENT, rounding=ROUND_HALF_UP, context=_ROUNDING)
    return cents.copy_abs() if cents.is_zero() else cents


def money_text(amount: Decimal) -> str:
    """Amount string with exactly two decimals, e.g. `1016.00`, `-64.31`."""
    return format(round_money(amount), "f")


def quantity_text(quantity: Decimal | int) -> str:
    """Exact decimal string without trailing zeros or exponent: `12.5`, `103000`, `0.0005`."""
    if isinstance(quantity, float):
        raise TypeError("quantities are exact decimals, never binary floats")
    quantity = Decimal(quantity)
    return "0" if quantity.is_zero() else format(quantity.normalize(EXACT), "f")


def period_bounds(period: str) -> tuple[date, date]:
    """First day of the billing period `YYYY-MM` and first day of the next month (half-open)."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValueError(f"billing period must be YYYY-MM, got {period!r}")
    start = date(int(period[:4]), int(period[5:]), 1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


def as_utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already (SPEC §2)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_timestamp(moment: datetime | date) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC; a date means its midnight."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def tier_bands(tiers: Sequence[InvoiceTier]) -> list[str]:
    """Readable billable-quantity band of each rated tier: `0-100000`, `100000+`."""
    bands, lower = [], "0"
    for tier in tiers:
        if tier.up_to is None:
            bands.append(f"{lower}+")
        else:
            bands.append(f"{lower}-{quantity_text(tier.up_to)}")
            lower = quantity_text(tier.up_to)
    return bands


def _graduated(billable: Decimal, tiers: Sequence[Tier]) -> tuple[list[InvoiceTier], Decimal]:
    rows, exact_total, floor = [], ZERO, ZERO
    for tier in tiers:
        ceiling = billable if tier.up_to is None else min(billable, tier.up_to)
        quantity = max(ZERO, ceiling - floor)
        amount = quantity * tier.unit_price
        rows.append(InvoiceTier(tier.up_to, tier.unit_price, quantity, round_money(amount)))
        exact_total += amount
        floor = tier.up_to if tier.up_to is not None else floor
    return rows, exact_total


def rate_usage_line(meter: str, usage: Decimal, price: Price) -> Line:
    """Usage line of one priced meter (SPEC §4 rule 2).

    billable = max(0, usage - included); amount = billable x unit_price, or the graduated sum over
    the billable quantity, rounded once. Each tier's own amount is shown rounded.
    """
    with localcontext(EXACT):
        billable = max(ZERO, usage - price.included)
        if price.tiers is None:
            tiers, exact_amount = None, billable * price.unit_price
        else:
            graduated, exact_amount = _graduated(billable, price.tiers)
            tiers = tuple(graduated)
        return Line(
            type="usage",
            meter=meter,
            quantity=usage,
            included=price.included,
            billable_quantity=billable,
            unit_price=price.unit_price if tiers is None else None,
            tiers=tiers,
            amount=round_money(exact_amount),
        )


def rate_adjustment_line(
    meter: str,
    price: Price | None,
    usage_now: Decimal,
    usage_billed: Decimal,
    adjusts_invoice: str,
    adjusts_period: str,
) -> Line:
    """Adjustment line for late usage of an earlier, final period (SPEC §5).

    quantity = usage now - usage billed so far; amount = rounded rule-2 price of the usage now -
    rounded rule-2 price of the usage billed so far, under the earlier period's `price` (None when
    that plan does not price the meter: amount 0.00).
    """

    def priced(usage: Decimal) -> Decimal:
        return ZERO if price is None else rate_usage_line(meter, usage, price).amount

    with localcontext(EXACT):
        return Line(
            type="adjustment",
            meter=meter,
            adjusts_invoice=adjusts_invoice,
            adjusts_period=adjusts_period,
            quantity=usage_now - usage_billed,
            # a difference of two cent amounts: exact cents, never rounded again
            amount=round_money(priced(usage_now) - priced(usage_billed)),
        )


def rate_invoice(
    catalog: Catalog,
    tenant_id: str,
    period: str,
    usage: Mapping[str, Decimal],
    adjustments: Sequence[Line],
    generated_at: datetime,
    status: str,
    invoice_number: str | None,
) -> Invoice:
    """The SPEC §6 invoice of `tenant_id` for `period` under the plan in force at its start.

    `usage` holds every meter the tenant used in the period (priced or not); `adjustments` are
    lines from `rate_adjustment_line`. Applies rules 2-7: usage lines, subtotal, volume discount,
    minimum-commitment true-up, total and included-quantity alerts.
    """
    start, end = period_bounds(period)
    plan_id = catalog.plan_for(tenant_id, start)
    if plan_id is None:
        raise ValueError(f"tenant {tenant_id!r} has no plan in force for {period}")
    plan = catalog.plans[plan_id]
    with localcontext(EXACT):
        usage_lines = [
            rate_usage_line(meter, usage[meter], plan.prices[meter])
            for meter in sorted(usage)
            if meter in plan.prices
        ]
        adjustment_lines = sorted(
            adjustments, key=lambda line: (line.adjusts_period or "", line.meter or "")
        )
        subtotal = sum((line.amount for line in usage_lines + adjustment_lines), ZERO)
        reached = [b for b in plan.volume_discounts if b.from_amount <= subtotal]
        percent = max(reached, key=lambda b: b.from_amount).percent if reached else ZERO
        discount = round_money(-(subtotal * percent / 100))
        commitment = plan.minimum_commitment
        true_up = max(ZERO, commitment - (subtotal + discount)) if commitment is not None else ZERO
        total = plan.monthly_fee + subtotal + discount + true_up

        fee = Line(
            type="fee",
            description=f"{plan.name} monthly fee",
            amount=round_money(plan.monthly_fee),
        )
        lines = [fee, *usage_lines, *adjustment_lines]
        if discount:
            description = f"Volume discount {quantity_text(percent)}%"
            lines.append(Line(type="discount", description=description, amount=discount))
        if true_up:
            description = "Minimum commitment true-up"
            lines.append(Line(type="true_up", description=description, amount=round_money(true_up)))

        alerts = tuple(
            Alert(meter, Decimal(threshold), usage.get(meter, ZERO), price.included)
            for meter, price in sorted(plan.prices.items())
            if price.included > 0
            for threshold in ALERT_THRESHOLDS
            if usage.get(meter, ZERO) >= Decimal(threshold) * price.included
        )
    return Invoice(
        schema_version=SCHEMA_VERSION,
        invoice_number=invoice_number,
        status=status,
        tenant_id=tenant_id,
        plan=plan_id,
        currency=catalog.currency,
        period_start=start,
        period_end=end,
        usage={meter: usage[meter] for meter in sorted(usage)},
        lines=tuple(lines),
        monthly_fee=round_money(plan.monthly_fee),
        usage_subtotal=round_money(subtotal),
        discount=discount,
        true_up=round_money(true_up),
        total=round_money(total),
        alerts=alerts,
        # the invoice carries whole seconds, as its files do (`utc_timestamp`)
        generated_at=as_utc(generated_at).replace(microsecond=0),
    )
