"""Partitions of the asset graph: raw deliveries by day, invoices by billing month (UTC)."""

import dagster as dg

# Fixed bounds (not "up to today") so that replayed or synthetic deliveries with any date in the
# range are valid partition keys, whatever the real clock says.
PARTITION_START = "2020-01-01"
PARTITION_END = "2031-01-01"

delivery_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, end_date=PARTITION_END, timezone="UTC"
)
billing_month_partitions = dg.MonthlyPartitionsDefinition(
    start_date=PARTITION_START, end_date=PARTITION_END, timezone="UTC"
)
