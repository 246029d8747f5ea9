"""Time `meterline invoice`, `explain` and `simulate` on a month of N usage records (default 10M).

The published marts are synthesized with DuckDB (fct_usage_records with lineage, and the daily and
monthly marts summed from it) rather than generated and ingested, so that the three commands are
measured on exactly N records in minutes. Usage: `uv run python scripts/measure_lineage.py HOME
[N] [TENANTS]`; prints the wall time of each command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from orchestration.defs.invoicing.invoice_tables import invoice_tables
from orchestration.defs.publish.publish import publish_marts

METERS = ("api_call", "llm_input_tokens", "llm_output_tokens", "traces", "voice_minute")
SOURCES = ("events", "usage_logs", "usage_logs", "traces", "events")


def build(home: Path, records: int, tenants: int) -> None:
    warehouse = home / "warehouse" / "build.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    con.execute("SET TimeZone = 'UTC'")
    meters = "[" + ", ".join(f"'{m}'" for m in METERS) + "]"
    sources = "[" + ", ".join(f"'{s}'" for s in SOURCES) + "]"
    con.execute(f"""
        CREATE OR REPLACE TABLE fct_usage_records AS
        SELECT
            {sources}[1 + i % 5] || ':k' || i || ':' || {meters}[1 + i % 5] AS record_key,
            {sources}[1 + i % 5] AS source,
            't' || lpad(CAST(i % {tenants} AS VARCHAR), 3, '0') AS tenant_id,
            {meters}[1 + i % 5] AS meter,
            CAST(CASE WHEN i % 5 IN (1, 2) THEN 100 + i % 900 ELSE 1 END AS DECIMAL(38, 12))
                AS quantity,
            TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds((i * 267840) % 2678400000000)
                AS event_time,
            DATE '2026-10-01' + CAST((i * 267840) % 2678400000000 // 86400000000 AS INTEGER)
                AS delivery_date,
            CAST(CASE WHEN i % 5 = 1 THEN 0.0003 ELSE 0 END AS DECIMAL(38, 12)) AS cost_usd,
            CAST(NULL AS DECIMAL(38, 12)) AS source_cost_usd,
            {sources}[1 + i % 5] || '/' || CAST(DATE '2026-10-01' + CAST((i * 267840)
                % 2678400000000 // 86400000000 AS INTEGER) AS VARCHAR) || '/batch.jsonl'
                AS raw_file,
            1 + i // 5 % 100000 AS raw_line
        FROM range({records}) AS r(i)
    """)
    con.execute("""
        CREATE OR REPLACE TABLE tenant_daily_usage AS
        SELECT CAST(event_time AS DATE) AS usage_date, tenant_id, meter,
               CAST(sum(quantity) AS DECIMAL(38, 12)) AS quantity, count(*) AS record_count
        FROM fct_usage_records GROUP BY ALL
    """)
    con.execute("""
        CREATE OR REPLACE TABLE tenant_monthly_usage AS
        SELECT CAST(date_trunc('month', event_time) AS DATE) AS usage_month, tenant_id, meter,
               CAST(sum(quantity) AS DECIMAL(38, 12)) AS quantity, count(*) AS record_count
        FROM fct_usage_records GROUP BY ALL
    """)
    con.close()
    publish_marts(
        warehouse,
        home / "published",
        invoice_tables(home),
        tables=("fct_usage_records", "tenant_daily_usage", "tenant_monthly_usage"),
    )


def timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(["meterline", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    home = Path(sys.argv[1]).resolve()
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    tenants = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    os.environ["METERLINE_HOME"] = str(home)
    started = time.perf_counter()
    build(home, records, tenants)
    print(f"built and published {records} records: {time.perf_counter() - started:.1f} s")
    month = ["--month", "2026-10"]
    print(f"invoice (final): {timed('invoice', *month, '--now', '2026-11-04T00:00:00Z'):.1f} s")
    csv = home / "explain-t001.csv"
    print(
        f"explain t001 --csv: {timed('explain', *month, '--tenant', 't001', '--csv', str(csv)):.1f} s"
    )
    print(f"explain t001: {timed('explain', *month, '--tenant', 't001'):.1f} s")
    other = home / "double.yml"
    catalog = Path(__file__).resolve().parents[1] / "orchestration/billing/default_catalog.yml"
    other.write_text(catalog.read_text().replace('monthly_fee: "250.00"', 'monthly_fee: "300.00"'))
    print(f"simulate: {timed('simulate', *month, '--with', str(other)):.1f} s")


if __name__ == "__main__":
    main()
