"""Partitions of the asset graph: raw deliveries by day, invoices by billing month (UTC)."""

import dagster as dg

PARTITION_START = "2020-01-01"
# Time-window partitions stop at the real clock unless extended: replayed or synthetic deliveries
# dated in the future (tests, demos, backfills from another system's clock) must still be valid
# partition keys, so the windows reach ten years ahead.
_DAYS_AHEAD = 3660
_MONTHS_AHEAD = 120

delivery_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, end_offset=_DAYS_AHEAD, timezone="UTC"
)
billing_month_partitions = dg.MonthlyPartitionsDefinition(
    start_date=PARTITION_START, end_offset=_MONTHS_AHEAD, timezone="UTC"
)
