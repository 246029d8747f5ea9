"""Publish cost: a full publish against one changed month, and invoicing's republish of one month.

Builds a synthetic build warehouse (`--rows` usage records spread evenly over the 12 months of
2026, with the daily and monthly marts), one `fct_invoice_records` state file per month (one row
per usage record), then times with the real `publish_marts` / `republish_tables`:
- the first publish (every month of every table written);
- a publish after one month (November) changed;
- a publish with nothing changed;
- invoicing's republish of November, and a full republish of the invoice tables for comparison.

    uv run --frozen python scripts/measure_publish.py [--rows 5000000] [--home DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from orchestration.billing.invoice_records import invoice_records_dir, invoice_records_query
from orchestration.defs.publish.publish import publish_marts, republish_tables

TABLES = ("fct_usage_records", "tenant_daily_usage", "tenant_monthly_usage")
NOVEMBER = date(2026, 11, 1)

WAREHOUSE_SQL = """
SET TimeZone = 'UTC';
CREATE TABLE fct_usage_records AS
SELECT 'events:' || i || ':api_call' AS record_key, 'events' AS source,
       'tenant-' || (i % 500) AS tenant_id, 'api_call' AS meter,
       CAST((i % 1000) / 7 AS DECIMAL(38, 12)) AS quantity,
       TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i * {step}) AS event_time,
       CAST(TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i * {step}) AS DATE) + 1
           AS delivery_date,
       CAST((i % 100) / 1000 AS DECIMAL(38, 12)) AS cost_usd, 'catalog' AS cost_source,
       CAST(NULL AS DECIMAL(38, 12)) AS source_cost_usd,
       'events/2026-01-02/part-' || (i % 97) || '.jsonl' AS raw_file, i % 50000 + 1 AS raw_line
FROM range({rows}) AS r(i);
CREATE TABLE tenant_daily_usage AS
SELECT CAST(event_time AS DATE) AS usage_date, tenant_id, meter,
       CAST(sum(quantity) AS DECIMAL(38, 12)) AS quantity, count(*) AS record_count
FROM fct_usage_records GROUP BY ALL;
CREATE TABLE tenant_monthly_usage AS
SELECT CAST(date_trunc('month', event_time) AS DATE) AS usage_month, tenant_id, meter,
       CAST(sum(quantity) AS DECIMAL(38, 12)) AS quantity, count(*) AS record_count
FROM fct_usage_records GROUP BY ALL;
"""

CHANGE_NOVEMBER_SQL = """
SET TimeZone = 'UTC';
UPDATE fct_usage_records SET quantity = quantity + 1
WHERE event_time >= '2026-11-01' AND event_time < '2026-12-01' AND tenant_id = 'tenant-7';
CREATE OR REPLACE TABLE tenant_daily_usage AS
SELECT CAST(event_time AS DATE) AS usage_date, tenant_id, meter,
       CAST(sum(quantity) AS DECIMAL(38, 12)) AS quantity, count(*) AS record_count
FROM fct_usage_records GROUP BY ALL;
CREATE OR REPLACE TABLE tenant_monthly_usage AS
SELECT CAST(date_trunc('month', event_time) AS DATE) AS usage_month, tenant_id, meter,
       CAST(sum(quantity) AS DECIMAL(38, 12)) AS quantity, count(*) AS record_count
FROM fct_usage_records GROUP BY ALL;
"""


def build(home: Path, rows: int) -> Path:
    warehouse = home / "warehouse" / "build.duckdb"
    warehouse.parent.mkdir(parents=True)
    step = 365 * 86400 // rows or 1
    with duckdb.connect(str(warehouse)) as con:
        con.execute(WAREHOUSE_SQL.format(rows=rows, step=step))
        records = invoice_records_dir(home)
        records.mkdir(parents=True)
        for month in range(1, 13):
            name = f"2026-{month:02d}"
            con.execute(
                f"""COPY (
                    SELECT '{name}' AS month, tenant_id, NULL::VARCHAR AS invoice_number,
                           'draft' AS status, 'usage' AS line_type, meter,
                           NULL::VARCHAR AS adjusts_period, record_key, quantity
                    FROM fct_usage_records WHERE strftime(event_time, '%Y-%m') = '{name}'
                ) TO '{records / name}.parquet' (FORMAT parquet, COMPRESSION zstd)"""
            )
    return warehouse


def timed(what: str, action) -> None:
    """Wall and CPU seconds (CPU of every DuckDB thread: steadier on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    action()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{what:<52} {wall:7.2f} s wall {cpu:7.2f} s CPU", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--home", type=Path, help="an empty folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        started = time.perf_counter()
        warehouse = build(home, args.rows)
        print(f"built {args.rows:,} usage records in {time.perf_counter() - started:.1f} s")
        published = home / "published"
        invoices = {"fct_invoice_records": invoice_records_query(home)}
        usage_tables = dict.fromkeys(TABLES, [NOVEMBER])

        timed("first publish (every month written)", lambda: publish_marts(
            warehouse, published, invoices, tables=TABLES))  # fmt: skip
        with duckdb.connect(str(warehouse)) as con:
            con.execute(CHANGE_NOVEMBER_SQL)
        timed("publish, November changed", lambda: publish_marts(
            warehouse, published, invoices, tables=TABLES, changed_months=usage_tables))  # fmt: skip
        timed("publish, nothing changed", lambda: publish_marts(
            warehouse, published, invoices, tables=TABLES, changed_months={}))  # fmt: skip
        timed("full publish again (changed_months=None)", lambda: publish_marts(
            warehouse, published, invoices, tables=TABLES))  # fmt: skip
        timed("invoice republish, November", lambda: republish_tables(
            published, invoices, changed_months={"fct_invoice_records": [NOVEMBER]}))  # fmt: skip
        timed("invoice republish, every month (changed_months=None)", lambda: republish_tables(
            published, invoices))  # fmt: skip


if __name__ == "__main__":
    main()
