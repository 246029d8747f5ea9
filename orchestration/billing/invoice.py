"""The SPEC 6 invoice as types: what rating builds and every consumer (lifecycle, files, PDF,
month report, records, explain, simulate, the invoices asset) reads.

Amounts and quantities are exact `Decimal`s: an amount is already rounded to cents where SPEC 4
says (by `orchestration.billing.rating`), a quantity is never rounded. They become the SPEC 6
strings only when files are written, and are read back from them, in
`orchestration.billing.invoice_files` (`invoice_json`, `invoice_from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Tier:
    """One rated tier of a graduated usage line: `up_to` None for the last, open-ended tier;
    `amount` is `quantity x unit_price` shown rounded to cents (the line rounds its exact sum)."""

    up_to: Decimal | None
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Line:
    """One invoice line. `type` is `fee`, `usage`, `adjustment`, `discount` or `true_up`; the
    fields a type does not have are None (SPEC 6):

    - fee, discount, true_up: `description`, `amount`;
    - usage: `meter`, `quantity`, `included`, `billable_quantity`, `unit_price` (flat price) or
      `tiers` (graduated), `amount`;
    - adjustment: `meter`, `adjusts_invoice`, `adjusts_period` (`YYYY-MM`), `quantity` (usage
      change), `amount`.
    """

    type: str
    amount: Decimal
    description: str | None = None
    meter: str | None = None
    adjusts_invoice: str | None = None
    adjusts_period: str | None = None
    quantity: Decimal | None = None
    included: Decimal | None = None
    billable_quantity: Decimal | None = None
    unit_price: Decimal | None = None
    tiers: tuple[Tier, ...] | None = None


@dataclass(frozen=True)
class Alert:
    """Usage of a meter reached `threshold` (`0.9` or `1.0`) of its included quantity."""

    meter: str
    threshold: Decimal
    usage: Decimal
    included: Decimal


@dataclass(frozen=True)
class Invoice:
    """A tenant's invoice for one billing period `[period_start, period_end)` (UTC midnights).

    `usage` holds every meter the tenant used (priced or not); `invoice_number` is None until the
    invoice is final; `generated_at` is UTC, to the second.
    """

    schema_version: int
    invoice_number: str | None
    status: str
    tenant_id: str
    plan: str
    currency: str
    period_start: date
    period_end: date
    usage: Mapping[str, Decimal]
    lines: tuple[Line, ...]
    monthly_fee: Decimal
    usage_subtotal: Decimal
    discount: Decimal
    true_up: Decimal
    total: Decimal
    alerts: tuple[Alert, ...]
    generated_at: datetime

    @property
    def month(self) -> str:
        """The billing period as `YYYY-MM`."""
        return f"{self.period_start:%Y-%m}"
