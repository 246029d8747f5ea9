"""Jobs, schedules and the delivery sensor: what runs nightly, monthly and when files land."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import dagster as dg

from orchestration.core.partitions import (
    add_partitions,
    billing_month_partitions,
    delivery_partitions,
)
from orchestration.core.resources import MeterlineResource
from orchestration.defs.ingest.assets import bronze_ingest, catalog_model_prices
from orchestration.defs.ingest.bronze import pending_raw_files
from orchestration.defs.invoicing.assets import invoices
from orchestration.defs.publish.assets import published_marts
from orchestration.defs.transform.assets import dbt_models

_TRANSFORM = dg.AssetSelection.assets(catalog_model_prices, dbt_models, published_marts)

# Ingest deliveries, build the marts, run every check, publish (SPEC 8 `meterline run`).
meterline_run = dg.define_asset_job(
    "meterline_run",
    selection=dg.AssetSelection.assets(bronze_ingest) | _TRANSFORM,
    description="Ingest deliveries -> bronze, dbt build, reconciliation checks, publish.",
)
# The same without ingestion, for runs with no new delivery (e.g. after a catalog change).
meterline_rebuild = dg.define_asset_job(
    "meterline_rebuild",
    selection=_TRANSFORM,
    description="dbt build, reconciliation checks, publish; no ingestion.",
)
meterline_invoice = dg.define_asset_job(
    "meterline_invoice",
    selection=dg.AssetSelection.assets(invoices),
    description="Rate one billing month and write its invoices (SPEC 4-6).",
)


@dg.schedule(job=meterline_run, cron_schedule="0 2 * * *", execution_timezone="UTC")
def nightly_delivery_schedule(context: dg.ScheduleEvaluationContext):
    """Every night at 02:00 UTC: ingest yesterday's delivery and republish."""
    yesterday = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
    # schedules cannot request partitions, so the key is registered here (it is idempotent)
    add_partitions(context.instance, delivery_partitions, [yesterday])
    return dg.RunRequest(partition_key=yesterday, run_key=f"nightly-{yesterday}")


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


@dg.sensor(job=meterline_run, minimum_interval_seconds=300)
def new_delivery_sensor(context: dg.SensorEvaluationContext, meterline: MeterlineResource):
    """Runs the partition of every delivery folder that has raw files not yet in bronze, adding
    the partitions of delivery folders that just appeared."""
    layout = meterline.layout
    pending = pending_raw_files(layout.raw, layout.bronze)
    known = set(context.instance.get_dynamic_partitions(delivery_partitions.name))
    new_days = sorted(day.isoformat() for day in pending if day.isoformat() not in known)
    requests = []
    for day, names in pending.items():
        fingerprint = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
        key = day.isoformat()
        requests.append(dg.RunRequest(partition_key=key, run_key=f"delivery-{key}-{fingerprint}"))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[delivery_partitions.build_add_request(new_days)]
        if new_days
        else [],
    )
