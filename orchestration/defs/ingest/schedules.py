"""When ingestion runs: nightly for yesterday's delivery, and as soon as delivery folders land.

Both start `meterline_run` (orchestration/defs/jobs.py), named here so ingestion does not import
the steps after it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import dagster as dg

from orchestration.core.partitions import add_partitions, delivery_partitions
from orchestration.core.resources import MeterlineResource
from orchestration.defs.ingest.bronze import pending_raw_files


@dg.schedule(job_name="meterline_run", cron_schedule="0 2 * * *", execution_timezone="UTC")
def nightly_delivery_schedule(context: dg.ScheduleEvaluationContext):
    """Every night at 02:00 UTC: ingest yesterday's delivery and republish."""
    yesterday = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
    # schedules cannot request partitions, so the key is registered here (it is idempotent)
    add_partitions(context.instance, delivery_partitions, [yesterday])
    return dg.RunRequest(partition_key=yesterday, run_key=f"nightly-{yesterday}")


@dg.sensor(job_name="meterline_run", minimum_interval_seconds=300)
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
