"""Where one `meterline run` of a generated month spends its time.

    python scripts/profile_run.py --events 1000000 --home /tmp/profile-1m

Generates the month (as `make bench` does), times `meterline run` with the bench's own wall clock
and peak-RSS sampling, then prints Dagster's step times and dbt's slowest SQL statements (from the
JSON log, `SQL status ... in N seconds`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path

import bench

from orchestration.core.settings import HomeLayout


def dbt_statement_seconds(log: Path) -> list[tuple[float, str]]:
    rows = []
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        found = re.search(
            r"SQL status: .* in ([0-9.]+) seconds", event.get("info", {}).get("msg", "")
        )
        if found:
            node = event.get("data", {}).get("node_info", {}).get("unique_id", "?")
            rows.append((float(found.group(1)), node))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    home = args.home
    layout = HomeLayout(home)
    shutil.rmtree(home, ignore_errors=True)
    bench.generate(home, "2026-10", args.events, tenants=50, seed=1)
    raw = sum(p.stat().st_size for p in layout.raw.rglob("*") if p.is_file())
    print(f"raw files: {raw:,} bytes")
    run = bench.meterline(home, "run")
    print(f"meterline run: {run.seconds:.1f} s, peak RSS {run.peak_rss_mb:,.0f} MB")

    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    for record in instance.get_run_records():
        stats = instance.get_run_stats(record.dagster_run.run_id)
        print(f"{record.dagster_run.job_name}: {stats.end_time - stats.start_time:.1f} s")
        for step in instance.get_run_step_stats(record.dagster_run.run_id):
            print(f"    {step.step_key}: {step.end_time - step.start_time:.1f} s")
    statements = dbt_statement_seconds(layout.dbt_target / "dbt.log")
    print(f"dbt SQL: {sum(s for s, _ in statements):.1f} s in {len(statements)} statements")
    for seconds, node in statements[:15]:
        print(f"    {seconds:.2f} s  {node}")


if __name__ == "__main__":
    main()
