"""The invoicing job and its monthly schedule (SPEC 5: once a month's grace period is over)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.core.partitions import add_partitions, billing_month_partitions
from orchestration.defs.invoicing.assets import invoices

meterline_invoice = dg.define_asset_job(
    "meterline_invoice",
    selection=dg.AssetSelection.assets(invoices),
    description="Rate one billing month and write its invoices (SPEC 4-6).",
)


def monthly_invoice_schedule(grace_period_days: int) -> dg.ScheduleDefinition:
    """Once the grace period of the previous month is over: finalize its invoices."""
    day = min(28, grace_period_days + 1)

    @dg.schedule(
        job=meterline_invoice,
        cron_schedule=f"0 3 {day} * *",
        execution_timezone="UTC",
        name="monthly_invoice_schedule",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        first_of_month = context.scheduled_execution_time.date().replace(day=1)
        previous = (first_of_month - timedelta(days=1)).strftime("%Y-%m")
        add_partitions(context.instance, billing_month_partitions, [previous])
        return dg.RunRequest(partition_key=previous, run_key=f"invoice-{previous}")

    return _schedule
