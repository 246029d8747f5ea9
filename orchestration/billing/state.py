"""Where the billing pipeline keeps its own state: `$METERLINE_HOME/state/billing/`, outside
`invoices/` (SPEC 6), so that finance can copy or sync `invoices/` as it is.

    state/billing/ledger/YYYY-MM.json             what each final invoice billed per (period, meter)
    state/billing/lines/YYYY-MM.parquet           the month's invoice lines (fct_invoice_lines)
    state/billing/invoice_records/YYYY-MM.parquet which records each line billed, with lineage
    state/billing/billed_records/YYYY-MM.parquet  per record, what a final month billed (adjustments)
    state/billing/margin/YYYY-MM.parquet          tenant_monthly_margin of the month

Homes written before this layout kept the ledger and lines under `invoices/.ledger` and
`invoices/.lines`: `billing_state` moves them here once.
"""

from __future__ import annotations

import os
from pathlib import Path

LEDGER = "ledger"
LINES = "lines"
INVOICE_RECORDS = "invoice_records"
BILLED_RECORDS = "billed_records"
MARGIN = "margin"
_LEGACY = {LEDGER: ".ledger", LINES: ".lines"}


def billing_state(home: Path) -> Path:
    """`home/state/billing`, with the state of an older layout moved in from `invoices/`."""
    root = home / "state" / "billing"
    for name, legacy in _LEGACY.items():
        old = home / "invoices" / legacy
        if old.is_dir() and not (root / name).exists():
            root.mkdir(parents=True, exist_ok=True)
            os.replace(old, root / name)
    return root


def state_dir(home: Path, name: str) -> Path:
    """One folder of the billing state (`LEDGER`, `LINES`, ...)."""
    return billing_state(home) / name
