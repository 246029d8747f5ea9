"""Raw -> bronze ingest rate of one METERLINE_HOME's raw files (no Dagster, no dbt).

    uv run --frozen python scripts/ingest_rate.py HOME [--repeat N]

Ingests every delivery into a fresh temporary bronze folder N times (default 3) and prints the
lines per second of each run (wall clock, and per CPU second of the process: steadier on a
shared machine) and their medians. Run it with PYTHONPATH pointing at
another checkout to compare two versions of the ingester on the same raw files.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import orchestration
from orchestration.defs.ingest.bronze import ingest_deliveries
from orchestration.defs.ingest.raw_files import list_delivery_dates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"ingester: {Path(orchestration.__file__).parent}")
    raw = args.home / "raw"
    days = list_delivery_dates(raw)
    rates, cpu_rates = [], []
    for run in range(1, args.repeat + 1):
        bronze = Path(tempfile.mkdtemp(prefix="meterline-ingest-rate-"))
        try:
            start, cpu_start = time.perf_counter(), time.process_time()
            audits = ingest_deliveries(raw, bronze, days)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        finally:
            shutil.rmtree(bronze, ignore_errors=True)
        lines = sum(a.lines_read for a in audits)
        items = sum(a.items_read for a in audits)
        rates.append(lines / elapsed)
        cpu_rates.append(lines / cpu)
        print(
            f"run {run}: {lines} lines, {items} items in {elapsed:.2f} s ({cpu:.2f} CPU s): "
            f"{lines / elapsed:,.0f} lines/s, {lines / cpu:,.0f} lines per CPU s"
        )
    print(
        f"median: {statistics.median(rates):,.0f} lines/s, "
        f"{statistics.median(cpu_rates):,.0f} lines per CPU s"
    )


if __name__ == "__main__":
    main()
