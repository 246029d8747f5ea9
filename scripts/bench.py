"""`make bench`: Meterline's throughput, nightly cost and memory against the DuckDB floor.

Every figure comes from one run of this script on generated data and is written, with the machine
and the date, to BENCHMARKS.md. Wall clocks are measured here; peak RSS is the high-water mark of
the whole process tree (meterline and its dbt subprocess), sampled with psutil.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import psutil

REPO = Path(__file__).resolve().parent.parent
MEG = 1024 * 1024


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float


def run_measured(args: list[str], env: dict[str, str]) -> Measured:
    """Run a command, return its wall time and the peak RSS of its process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    stop.set()
    sampler.join()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{stderr.decode()[-3000:]}")
    return Measured(elapsed, peak / MEG)


def meterline(home: Path, *args: str) -> Measured:
    env = {**os.environ, "METERLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    exe = str(Path(sys.executable).with_name("meterline"))
    return run_measured([exe, *args, "--home", str(home)], env)


def generate(home: Path, month: str, events: int, tenants: int, seed: int) -> float:
    from orchestration.generate import generate_month

    start = time.perf_counter()
    generate_month(home, month, tenants=tenants, events=events, seed=seed)
    return time.perf_counter() - start


def floor_seconds(home: Path) -> float:
    """One DuckDB read_json aggregate (count and sum per tenant/meter/day) over the raw files."""
    raw = home / "raw"
    con = duckdb.connect()
    queries = [
        f"""SELECT business_id, lower(event_type), CAST(created_at AS VARCHAR)[:10], count(*),
                   sum(TRY_CAST(quantity AS DOUBLE))
            FROM read_json('{raw}/events/*/*', format='newline_delimited', ignore_errors=true,
                           columns={{'business_id': 'VARCHAR', 'event_type': 'VARCHAR',
                                     'quantity': 'VARCHAR', 'created_at': 'VARCHAR'}})
            GROUP BY ALL""",
        f"""SELECT tenantId, CAST(createdAt AS VARCHAR)[:10], count(*), sum(TRY_CAST(tokensIn AS DOUBLE)),
                   sum(TRY_CAST(tokensOut AS DOUBLE))
            FROM read_json('{raw}/usage_logs/*/*', format='newline_delimited', ignore_errors=true,
                           columns={{'tenantId': 'VARCHAR', 'tokensIn': 'VARCHAR',
                                     'tokensOut': 'VARCHAR', 'createdAt': 'VARCHAR'}})
            GROUP BY ALL""",
        f"""SELECT tenantId, CAST(createdAt AS VARCHAR)[:10], count(*), sum(len(steps))
            FROM read_json('{raw}/sessions/*/*', format='newline_delimited', ignore_errors=true,
                           columns={{'tenantId': 'VARCHAR', 'createdAt': 'VARCHAR',
                                     'steps': 'JSON[]'}})
            GROUP BY ALL""",
        f"""SELECT count(*), sum(len(resourceSpans))
            FROM read_json('{raw}/traces/*/*', format='newline_delimited', ignore_errors=true,
                           columns={{'resourceSpans': 'JSON[]'}})""",
    ]
    start = time.perf_counter()
    for query in queries:
        con.execute(query).fetchall()
    return time.perf_counter() - start


def ingest_only(home: Path) -> dict:
    """Raw -> bronze alone (no Dagster, no dbt): lines and items per second."""
    from orchestration.defs.ingest.bronze import ingest_deliveries
    from orchestration.defs.ingest.raw_files import list_delivery_dates

    bronze = home / "bronze-ingest-only"
    start = time.perf_counter()
    audits = ingest_deliveries(home / "raw", bronze, list_delivery_dates(home / "raw"))
    lines = sum(a.lines_read for a in audits)
    items = sum(a.items_read for a in audits)
    elapsed = time.perf_counter() - start
    shutil.rmtree(bronze, ignore_errors=True)
    return {
        "ingest_s": elapsed,
        "lines_per_s": lines / elapsed,
        "ingest_items_per_s": items / elapsed,
    }


def count_items(home: Path) -> int:
    db = home / "published" / "marts.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT sum(items_read) FROM ingest_audit").fetchall()[0][0]
    finally:
        con.close()


def end_to_end(work: Path, events: int, with_ingest_only: bool = True) -> dict:
    home = work / f"e2e-{events}"
    shutil.rmtree(home, ignore_errors=True)
    gen = generate(home, "2026-10", events, tenants=50, seed=1)
    floor = floor_seconds(home)
    ingest = ingest_only(home) if with_ingest_only else {}
    run = meterline(home, "run")
    items = count_items(home)
    result = {
        "events": events,
        "items": items,
        "generate_s": gen,
        "floor_s": floor,
        "run_s": run.seconds,
        "items_per_s": items / run.seconds,
        "ratio_to_floor": run.seconds / floor,
        "peak_rss_mb": run.peak_rss_mb,
        **ingest,
    }
    shutil.rmtree(home, ignore_errors=True)
    return result


def nightly(work: Path, history_days: int, events_per_day: int) -> dict:
    """Ingest `history_days` of deliveries, then time the run that adds one more day."""
    home = work / f"nightly-{history_days}"
    shutil.rmtree(home, ignore_errors=True)
    first = date(2026, 1, 1)
    month = first
    last_day = first + timedelta(days=history_days)
    while month <= last_day:
        days = (
            month.replace(month=month.month % 12 + 1, year=month.year + month.month // 12) - month
        ).days
        generate(home, month.strftime("%Y-%m"), events_per_day * days, tenants=20, seed=month.month)
        month = (month + timedelta(days=32)).replace(day=1)
    raw = home / "raw"
    held_back = home / "held_back"
    # keep the history window plus one new day; later deliveries are moved out of the way
    for folder in sorted(raw.glob("*/*")):
        day = date.fromisoformat(folder.name)
        if day < first or day > last_day:
            target = held_back / folder.relative_to(raw)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(folder, target)
    new_day = [f for f in sorted(raw.glob(f"*/{last_day.isoformat()}"))]
    for folder in new_day:
        target = held_back / "new" / folder.relative_to(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(folder, target)
    meterline(home, "run")
    for folder in sorted((held_back / "new").glob("*/*")):
        shutil.move(folder, raw / folder.relative_to(held_back / "new"))
    run = meterline(home, "run")
    nothing_new = meterline(home, "run")
    shutil.rmtree(home, ignore_errors=True)
    return {
        "history_days": history_days,
        "nightly_s": run.seconds,
        "peak_rss_mb": run.peak_rss_mb,
        "nothing_new_s": nothing_new.seconds,
    }


def fixed_overhead(work: Path, runs: int = 3) -> dict:
    """`meterline run` on a new home whose only delivery is an empty folder: Dagster, dbt and
    GX start-up and bookkeeping with no data (best and median of `runs`)."""
    home = work / "fixed-overhead"
    shutil.rmtree(home, ignore_errors=True)
    (home / "raw" / "events" / "2026-10-01").mkdir(parents=True)
    times = sorted(meterline(home, "run").seconds for _ in range(runs))
    shutil.rmtree(home, ignore_errors=True)
    return {"best_s": times[0], "median_s": times[len(times) // 2]}


def invoicing(work: Path, tenants: int) -> dict:
    home = work / f"invoice-{tenants}"
    shutil.rmtree(home, ignore_errors=True)
    generate(home, "2026-10", max(20_000, tenants * 6), tenants=tenants, seed=3)
    meterline(home, "run")
    run = meterline(home, "invoice", "--month", "2026-10", "--now", "2026-11-04T00:00:00Z")
    invoices = len(list((home / "invoices" / "2026-10").glob("*.pdf")))
    shutil.rmtree(home, ignore_errors=True)
    return {
        "tenants": tenants,
        "invoices": invoices,
        "invoice_s": run.seconds,
        "invoices_per_s": invoices / run.seconds,
        "peak_rss_mb": run.peak_rss_mb,
    }


def _commit() -> str:
    completed = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return completed.stdout.strip() or "unknown"


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = cpu
    return (
        f"{psutil.cpu_count()} cores ({model}), {psutil.virtual_memory().total / MEG / 1024:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}"
    )


def _ingest_cell(r: dict) -> str:
    if "ingest_s" not in r:
        return "not measured"
    return f"{r['ingest_s']:.1f} s ({r['lines_per_s']:,.0f} lines/s)"


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """(target, where this run ended, met?) for each target of issue 5; None: not measured."""
    e2e = {r["events"]: r for r in results["e2e"]}
    nights = {r["history_days"]: r for r in results["nightly"]}
    invoices = results["invoice"]
    rows: list[tuple[str, str, bool | None]] = []
    if 10_000_000 in e2e:
        r = e2e[10_000_000]
        rows.append(
            (
                "10M events end to end within 4x the floor",
                f"{r['ratio_to_floor']:.1f}x ({r['run_s']:.0f} s vs {r['floor_s']:.0f} s)",
                r["ratio_to_floor"] <= 4,
            )
        )
        rows.append(
            (
                "peak RSS under 3 GiB at 10M events",
                f"{r['peak_rss_mb'] / 1024:.2f} GiB",
                r["peak_rss_mb"] < 3 * 1024,
            )
        )
        if 30_000_000 in e2e:
            r30 = e2e[30_000_000]
            rows.append(
                (
                    "30M events end to end within 4x the floor",
                    f"{r30['ratio_to_floor']:.1f}x ({r30['run_s']:.0f} s vs {r30['floor_s']:.0f} s)",
                    r30["ratio_to_floor"] <= 4,
                )
            )
            growth = e2e[30_000_000]["peak_rss_mb"] / r["peak_rss_mb"]
            rows.append(
                ("peak RSS grows < 1.5x from 10M to 30M events", f"{growth:.2f}x", growth < 1.5)
            )
    if 1_000_000 in e2e:
        r = e2e[1_000_000]
        rows.append(
            (
                "1M events end to end no slower than before issue 12 (46 s)",
                f"{r['run_s']:.1f} s",
                r["run_s"] <= 46,
            )
        )
    for longest in (180, 365):
        if 7 in nights and longest in nights:
            ratio = nights[longest]["nightly_s"] / nights[7]["nightly_s"]
            rows.append(
                (
                    f"nightly with {longest} days of history within 1.25x of 7 days",
                    f"{ratio:.2f}x",
                    ratio <= 1.25,
                )
            )
    if 365 in nights:
        r = nights[365]
        rows.append(
            (
                "a run with nothing new on 365 days of history within 10 s",
                f"{r['nothing_new_s']:.1f} s",
                r["nothing_new_s"] <= 10,
            )
        )
    for r in invoices:
        rows.append(
            (
                f"invoices >= 100/s with PDFs ({r['tenants']:,} tenants)",
                f"{r['invoices_per_s']:.0f}/s",
                r["invoices_per_s"] >= 100,
            )
        )
    if results.get("pull"):
        from bench_pull import targets as pull_targets

        rows += pull_targets(results["pull"])
    if results.get("overhead"):
        o = results["overhead"]
        rows.append(
            (
                "fixed overhead (empty delivery) under 15 s",
                f"{o['median_s']:.1f} s (median of 3)",
                o["median_s"] < 15,
            )
        )
    return rows


def write_report(path: Path, results: dict, sizes: list[int], command: str) -> None:
    e2e, nights, inv = results["e2e"], results["nightly"], results["invoice"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"Code: commit {_commit()}. Load average (1, 5, 15 min) at the start "
        f"{results['load_start']}, at the end {_load()}: anything above ~0.5 is another process "
        "sharing the two cores.",
        f"Command: `{command}`"
        + (f" (sizes {', '.join(f'{s:,}' for s in sizes)} events)" if e2e else "")
        + "; every figure below comes from that one run.",
        "",
        "## Targets (issues 5 and 12)",
        "",
        "| target | this run | met |",
        "|---|---:|:---:|",
    ]
    for target, value, met in targets(results):
        lines.append(f"| {target} | {value} | {'yes' if met else 'no'} |")
    lines += [
        "",
        "## End to end: `meterline run` on a generated month (all four sources, default mix)",
        "",
        "The floor is one DuckDB `read_json` aggregate (count and sum per tenant/meter/day) over "
        "the same raw files. Peak RSS is the whole process tree (meterline and dbt).",
        "",
        "| events | items read | floor | meterline run | items/s | ratio to floor | peak RSS | raw -> bronze alone |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in e2e:
        lines.append(
            f"| {r['events']:,} | {r['items']:,} | {r['floor_s']:.2f} s | {r['run_s']:.1f} s | "
            f"{r['items_per_s']:,.0f} | {r['ratio_to_floor']:.1f}x | {r['peak_rss_mb']:,.0f} MB | "
            f"{_ingest_cell(r)} |"
        )
    lines += [
        "",
        f"## Nightly: one new delivery day on top of history ({results['per_day']:,} events a day)",
        "",
        "| history | nightly run | peak RSS | run again with nothing new |",
        "|---:|---:|---:|---:|",
    ]
    for r in nights:
        lines.append(
            f"| {r['history_days']} days | {r['nightly_s']:.1f} s | {r['peak_rss_mb']:,.0f} MB | "
            f"{r['nothing_new_s']:.1f} s |"
        )
    for r in nights[1:]:
        lines.append(
            f"\nRatio {r['history_days']} days / {nights[0]['history_days']} days: "
            f"{r['nightly_s'] / nights[0]['nightly_s']:.2f}x"
        )
    if results.get("overhead"):
        o = results["overhead"]
        lines += [
            "",
            "## Fixed overhead: `meterline run` on a new home with one empty delivery",
            "",
            f"Best {o['best_s']:.1f} s, median {o['median_s']:.1f} s of 3 runs (Python and "
            "Dagster start-up, dbt start-up and its models on empty bronze, GX on empty marts, "
            "publish).",
        ]
    lines += [
        "",
        "## Invoicing (JSON + CSV + PDF per tenant)",
        "",
        "| tenants | invoices | meterline invoice | invoices/s | peak RSS |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in inv:
        lines.append(
            f"| {r['tenants']:,} | {r['invoices']:,} | {r['invoice_s']:.1f} s | "
            f"{r['invoices_per_s']:.0f} | {r['peak_rss_mb']:,.0f} MB |"
        )
    if results.get("pull"):
        from bench_pull import report_lines as pull_report_lines

        lines += pull_report_lines(results["pull"])
    lines.append("")
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--work", type=Path, default=REPO / "bench-out")
    parser.add_argument("--report", type=Path, default=REPO / "BENCHMARKS.md")
    parts = ("e2e", "overhead", "nightly", "invoice", "pull")
    parser.add_argument(
        "--only",
        choices=parts,
        action="append",
        help="run only these parts (repeatable); the report then says which parts ran",
    )
    parser.add_argument(
        "--history",
        type=int,
        action="append",
        help="nightly: days of history to measure (repeatable; default 7, 180 and 365)",
    )
    args = parser.parse_args()
    chosen = set(args.only or parts)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if args.smoke:
        sizes, history, per_day, tenants = [5_000, 10_000], [7, 10], 200, [20]
    else:
        # 30M only for memory growth: its raw -> bronze alone is not timed (it adds minutes)
        sizes, history, per_day, tenants = (
            [1_000_000, 10_000_000, 30_000_000],
            [7, 180, 365],
            20_000,
            [1_000, 10_000],
        )
    history = args.history or history
    args.work.mkdir(parents=True, exist_ok=True)
    results = {
        "e2e": [],
        "nightly": [],
        "invoice": [],
        "overhead": None,
        "per_day": per_day,
        "load_start": _load(),
    }
    for size in sizes if "e2e" in chosen else []:
        results["e2e"].append(end_to_end(args.work, size, with_ingest_only=size <= 10_000_000))
        print(results["e2e"][-1], flush=True)
    if "overhead" in chosen:
        results["overhead"] = fixed_overhead(args.work)
        print(results["overhead"], flush=True)
    for days in history if "nightly" in chosen else []:
        results["nightly"].append(nightly(args.work, days, per_day))
        print(results["nightly"][-1], flush=True)
    for count in tenants if "invoice" in chosen else []:
        results["invoice"].append(invoicing(args.work, count))
        print(results["invoice"][-1], flush=True)
    if "pull" in chosen:
        from bench_pull import pull_bench

        results["pull"] = pull_bench(
            args.work, [2_000, 10_000] if args.smoke else [200_000, 1_000_000]
        )
    command = "python scripts/bench.py --smoke" if args.smoke else "make bench"
    if args.only:
        command = "python scripts/bench.py " + " ".join(f"--only {p}" for p in args.only)
        command += "".join(f" --history {days}" for days in args.history or [])
    write_report(args.report, results, sizes, command)
    print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
