"""Raw -> bronze ingest rate of one METERLINE_HOME's raw files (no Dagster, no dbt).

    uv run --frozen python scripts/ingest_rate.py HOME [--repeat N]

Ingests every delivery into a fresh temporary bronze folder N times (default 3) and prints the
lines and items per second of each run and their median. Run it with PYTHONPATH pointing at
another checkout to compare two versions of the ingester on the same raw files.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from orchestration.ingest.bronze import ingest_deliveries
from orchestration.ingest.raw_files import list_delivery_dates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw = args.home / "raw"
    days = list_delivery_dates(raw)
    rates = []
    for run in range(1, args.repeat + 1):
        bronze = Path(tempfile.mkdtemp(prefix="meterline-ingest-rate-"))
        try:
            start = time.perf_counter()
            audits = ingest_deliveries(raw, bronze, days)
            elapsed = time.perf_counter() - start
        finally:
            shutil.rmtree(bronze, ignore_errors=True)
        lines = sum(a.lines_read for a in audits)
        items = sum(a.items_read for a in audits)
        rates.append(lines / elapsed)
        print(
            f"run {run}: {lines} lines, {items} items in {elapsed:.2f} s: {lines / elapsed:,.0f} lines/s"
        )
    print(f"median: {statistics.median(rates):,.0f} lines/s")


if __name__ == "__main__":
    main()
