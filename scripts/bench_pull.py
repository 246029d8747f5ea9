"""`meterline pull` speed and memory (issue 15): rows/s from a real PostgreSQL `usage_events` table.

A throw-away PostgreSQL server (tests/pull/postgres_server.py) gets a `usage_events` table of
SPEC 2.1 rows (jsonb metadata, numeric quantities, an index on `created_at` as an application
would have); then one `meterline pull` (a Dagster run, as a user runs it) reads every row into
one raw file. The pull rate is rows / the pull asset's own time (connect, COPY, write, fsync,
rename); the command's wall time adds Python and Dagster start-up. Peak RSS is the whole
`meterline` process tree; the PostgreSQL server is a separate process and not counted.

Run alone: `uv run python scripts/bench_pull.py --rows 200000 1000000`; `make bench` calls it too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))

import psutil  # noqa: E402
from bench import meterline  # noqa: E402
from pull.postgres_server import PostgresServer  # noqa: E402

SOURCES = """\
postgres:
  - name: app_events
    source: events
    dsn_env: APP_DATABASE_URL
    table: public.usage_events
    cursor_column: created_at
    lookback: 10m
"""

TABLE = """
CREATE TABLE usage_events (
    id text PRIMARY KEY, business_id text NOT NULL, event_type text NOT NULL,
    quantity numeric NOT NULL, unit_price_cents numeric, total_cost_cents numeric,
    metadata jsonb, created_at timestamptz NOT NULL)
"""

ROWS = """
INSERT INTO usage_events
SELECT md5(g::text), 'tenant_' || (g %% 50), (ARRAY['api_call', 'voice_minute', 'ai_query'])[1 + g %% 3],
       1 + g %% 9, 0.5, (1 + g %% 9) * 0.5,
       jsonb_build_object('operation', 'chat_completion', 'model', 'gpt-4o-mini',
                          'tokens', g %% 4096, 'sessionId', 's_' || (g / 20)),
       '2026-10-01'::timestamptz + g * interval '2 seconds'
FROM generate_series(1, %s) g
"""


def _server_cpu_seconds(server: PostgresServer) -> float:
    """CPU time of the server's finished backends and parallel workers (reaped by postmaster)."""
    times = psutil.Process(server.postmaster_pid()).cpu_times()
    return times.children_user + times.children_system


def _pull_seconds(home: Path) -> tuple[float, float]:
    """The pull asset's own wall and CPU time, from its materialization in Dagster's storage."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("pull_app_events"))
        metadata = event.asset_materialization.metadata
        assert metadata["rows"].value > 0
        return float(metadata["seconds"].value), float(metadata["cpu_seconds"].value)


def pull_bench(work: Path, sizes: list[int]) -> list[dict]:
    """One full pull of a `usage_events` table of each size; rate and peak RSS of each."""
    server = PostgresServer(fsync=False).start()
    results = []
    try:
        for rows in sizes:
            db = f"bench_{rows}"
            dsn = server.create_database(db)
            with server.connect(db) as conn:
                conn.execute(TABLE)
                conn.execute(ROWS, (rows,))
                conn.execute("CREATE INDEX ON usage_events (created_at)")
                conn.execute("VACUUM ANALYZE usage_events")
            home = work / f"pull-{rows}"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            (home / "sources.yml").write_text(SOURCES)
            os.environ["APP_DATABASE_URL"] = dsn  # read by the `meterline pull` subprocess
            # the set-up connection's backend is reaped (and its CPU counted) once it has exited
            time.sleep(3)
            server_cpu = _server_cpu_seconds(server)
            load = os.getloadavg()[0]
            run = meterline(home, "pull")
            server_cpu = _server_cpu_seconds(server) - server_cpu
            [file] = (home / "raw" / "events").rglob("pull-*.jsonl")
            lines = sum(1 for _ in file.open("rb"))
            assert lines == rows, (lines, rows)
            pull_s, client_cpu = _pull_seconds(home)
            results.append(
                {
                    "rows": rows,
                    "pull_s": pull_s,
                    "rows_per_s": rows / pull_s,
                    "command_s": run.seconds,
                    "peak_rss_mb": run.peak_rss_mb,
                    "file_mb": file.stat().st_size / 2**20,
                    "client_cpu_s": client_cpu,
                    "server_cpu_s": server_cpu,
                    "load_avg": load,
                    "rows_per_cpu_s": rows / (client_cpu + server_cpu),
                }
            )
            print(results[-1], flush=True)
            shutil.rmtree(home, ignore_errors=True)
            with server.connect() as conn:
                conn.execute(f"DROP DATABASE {db}")
    finally:
        server.stop()
    return results


def report_lines(results: list[dict]) -> list[str]:
    """The BENCHMARKS.md section."""
    lines = [
        "",
        "## Pull from PostgreSQL: `meterline pull` of a `usage_events` table (issue 15)",
        "",
        "One pull of every row (first pull, no cursor yet) into one raw file. Rate = rows / the "
        "pull asset's own time (COPY, write, fsync, rename); the command adds Python and Dagster "
        "start-up. Peak RSS: the `meterline` process tree (the PostgreSQL server not counted).",
        "",
        "CPU: the pull's own process (Python: COPY rows to the file) and the PostgreSQL "
        "backend with its parallel workers (rendering rows as JSON); the machine's load average "
        "at the start says how much of its 2 cores the pull could have.",
        "",
        "| rows | pull | rows/s | meterline pull (wall) | peak RSS | raw file | CPU client / server | rows per CPU-s | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['pull_s']:.2f} s | {r['rows_per_s']:,.0f} | "
            f"{r['command_s']:.1f} s | {r['peak_rss_mb']:,.0f} MB | {r['file_mb']:,.0f} MB | "
            f"{r['client_cpu_s']:.1f} s / {r['server_cpu_s']:.1f} s | {r['rows_per_cpu_s']:,.0f} | "
            f"{r['load_avg']:.1f} |"
        )
    if len(results) >= 2:
        growth = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"]
        lines.append(
            f"\nPeak RSS {results[-1]['rows']:,} rows / {results[0]['rows']:,} rows: {growth:.2f}x"
        )
    return lines


def targets(results: list[dict]) -> list[tuple[str, str, bool]]:
    """(target, this run, met?) of issue 15."""
    rows = []
    by_size = {r["rows"]: r for r in results}
    if 1_000_000 in by_size:
        rate = by_size[1_000_000]["rows_per_s"]
        rows.append(("pull >= 100,000 rows/s (1M rows)", f"{rate:,.0f} rows/s", rate >= 100_000))
    if len(results) >= 2:
        growth = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"]
        rows.append(
            (
                f"pull memory flat ({results[0]['rows']:,} -> {results[-1]['rows']:,} rows)",
                f"{growth:.2f}x",
                growth < 1.2,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=REPO / "bench-out")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = pull_bench(args.work, args.rows)
    print("\n".join(report_lines(results)))
    for target, value, met in targets(results):
        print(f"{target}: {value} ({'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
