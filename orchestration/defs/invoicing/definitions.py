"""Invoicing (group `invoices`): the invoices, the invoice tables added to every published
version, the monthly schedule and `meterline simulate`."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.invoicing.assets import invoices
from orchestration.defs.invoicing.invoice_tables import INVOICE_TABLE_SPECS, InvoiceTables
from orchestration.defs.invoicing.schedules import meterline_invoice, monthly_invoice_schedule
from orchestration.defs.invoicing.simulate_job import simulate_month_job


def definitions(grace_period_days: int) -> dg.Definitions:
    return dg.Definitions(
        assets=[invoices, *INVOICE_TABLE_SPECS],
        jobs=[meterline_invoice, simulate_month_job],
        schedules=[monthly_invoice_schedule(grace_period_days)],
        # publish writes the invoice tables into each version without importing invoicing
        resources={"published_extras": InvoiceTables()},
    )
