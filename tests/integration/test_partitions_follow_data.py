"""Partitions follow the data (issue 10): a delivery partition per delivery folder that exists, a
billing-month partition per month invoiced, so the UI lists no empty days reaching years ahead."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from orchestration.core.partitions import delivery_partitions, partition_range
from orchestration.core.resources import MeterlineResource
from orchestration.defs.ingest.schedules import new_delivery_sensor, nightly_delivery_schedule
from orchestration.defs.invoicing.schedules import monthly_invoice_schedule


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def land(home: Path, source: str, day: str, name: str = "a.jsonl") -> None:
    folder = home / "raw" / source / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text('{"id": "1"}\n')


def test_sensor_adds_a_partition_per_delivery_folder_and_runs_it(tmp_path: Path, instance):
    land(tmp_path, "events", "2026-10-03")
    land(tmp_path, "traces", "2026-10-01")
    context = dg.build_sensor_context(
        instance=instance, resources={"meterline": MeterlineResource(home=str(tmp_path))}
    )
    result = new_delivery_sensor(context)
    (added,) = result.dynamic_partitions_requests
    assert added.partitions_def_name == "deliveries"
    assert list(added.partition_keys) == ["2026-10-01", "2026-10-03"]
    assert sorted(r.partition_key for r in result.run_requests) == ["2026-10-01", "2026-10-03"]

    # once known, a partition is not requested again; only the folder's new file is run
    instance.add_dynamic_partitions("deliveries", ["2026-10-01", "2026-10-03"])
    land(tmp_path, "events", "2026-10-03", "b.jsonl")
    again = new_delivery_sensor(context)
    assert again.dynamic_partitions_requests == []


def test_schedules_register_the_partition_they_run(instance):
    nightly = nightly_delivery_schedule(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 5, 2, tzinfo=UTC)
        )
    )
    assert nightly.partition_key == "2026-11-04"
    assert instance.get_dynamic_partitions("deliveries") == ["2026-11-04"]

    monthly = monthly_invoice_schedule(grace_period_days=3)(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 4, 3, tzinfo=UTC)
        )
    )
    assert monthly.partition_key == "2026-10"
    assert instance.get_dynamic_partitions("billing_months") == ["2026-10"]


def test_a_range_follows_the_order_partitions_were_added(instance):
    instance.add_dynamic_partitions("deliveries", ["2026-10-02", "2026-10-05"])
    # an older delivery folder appears after newer ones: the range is taken in the order added
    instance.add_dynamic_partitions("deliveries", ["2026-10-01"])
    first, last = partition_range(instance, delivery_partitions, ["2026-10-01", "2026-10-05"])
    assert (first, last) == ("2026-10-05", "2026-10-01")

    seen = []

    @dg.asset(partitions_def=delivery_partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def delivery(context: dg.AssetExecutionContext) -> None:
        seen.extend(context.partition_keys)

    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    assert dg.materialize([delivery], instance=instance, tags=tags).success
    assert sorted(seen) == ["2026-10-01", "2026-10-05"]
