"""Partitions of the asset graph, following the data: a delivery partition per delivery folder
that exists (`YYYY-MM-DD`), a billing-month partition per month invoiced (`YYYY-MM`).

They are added as deliveries appear (by `meterline run` and the delivery sensor) and as months are
invoiced (by `meterline invoice` and the monthly schedule), so the UI lists what exists instead of
thousands of empty days reaching years ahead.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

delivery_partitions = dg.DynamicPartitionsDefinition(name="deliveries")
billing_month_partitions = dg.DynamicPartitionsDefinition(name="billing_months")


def add_partitions(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, keys: Iterable[str]
) -> None:
    """Register the keys not yet known (in sorted order, so the UI lists them by date)."""
    known = set(instance.get_dynamic_partitions(partitions.name))
    new = sorted(set(keys) - known)
    if new:
        instance.add_dynamic_partitions(partitions.name, new)


def partition_range(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, keys: Iterable[str]
) -> tuple[str, str]:
    """The first and last of `keys` in the instance's order of the partitions.

    A range of dynamic partitions runs in the order they were added: a delivery folder that
    appears later for an older date sorts after newer ones, so the range is taken in that order
    (any key it spans that has nothing new is a no-op for ingestion, which skips committed files).
    """
    wanted = set(keys)
    ordered = [k for k in instance.get_dynamic_partitions(partitions.name) if k in wanted]
    return ordered[0], ordered[-1]
