"""Write-audit-publish (SPEC 7): analysts reading the published marts in other processes while a
run publishes never block it, are never blocked, and only ever see complete, reconciled states.

Three reader processes run for the whole `meterline run` (in this process, after a new delivery):
- `hold` opens `published/marts.duckdb` read-only before the run and keeps that one connection
  (an analyst with the file open in a notebook);
- `reopen` opens a fresh read-only connection for every read (dashboards, ad-hoc queries);
- `parquet` reads the month files of `published/parquet/<table>.parquet/`.
Each read records the monthly mart's row count and total and whether, inside the snapshot it
read, the monthly mart equals the sum of the daily mart and the daily mart the usage records.
"""

import json
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"

# A second delivery: new October usage for acme and a new tenant, late September usage, and an
# exact re-delivery of a sample event (a duplicate: it must not count twice).
NEW_EVENTS = [
    '{"id":"2f1c6a0e-0101","business_id":"acme","event_type":"api_call","quantity":5,'
    '"created_at":"2026-10-04T09:00:00Z"}',
    '{"id":"2f1c6a0e-0102","business_id":"globex","event_type":"voice_minute","quantity":"1.5",'
    '"created_at":"2026-10-04T09:30:00Z"}',
    '{"id":"2f1c6a0e-0103","business_id":"acme","event_type":"storage_mb","quantity":2,'
    '"created_at":"2026-09-30T23:59:59Z"}',
    (SAMPLES / "events.jsonl").read_text().splitlines()[0],
]

# The reader: one JSON line per read, {"t", "count", "sum", "unreconciled"} or {"t", "error"}.
READER = textwrap.dedent(
    '''
    import json, os, sys, time
    import duckdb

    published, mode, out, stop = sys.argv[1:5]
    database = os.path.join(published, "marts.duckdb")
    TOTALS = "SELECT count(*), sum(quantity)::VARCHAR FROM {monthly}"
    # rows where the snapshot does not reconcile: monthly vs the sum of daily per tenant, meter
    # and month, plus 1 when the daily total is not the usage records' total
    UNRECONCILED = """
        SELECT (
            SELECT count(*)
            FROM {monthly} AS m
            FULL OUTER JOIN (
                SELECT date_trunc('month', usage_date)::DATE AS usage_month, tenant_id, meter,
                       sum(quantity) AS quantity, sum(record_count) AS record_count
                FROM {daily} GROUP BY ALL
            ) AS d USING (usage_month, tenant_id, meter)
            WHERE m.quantity IS DISTINCT FROM d.quantity
               OR m.record_count IS DISTINCT FROM d.record_count
        ) + (
            SELECT count(*)
            FROM (SELECT sum(quantity) AS q FROM {daily}) AS d,
                 (SELECT sum(quantity) AS q FROM {records}) AS r
            WHERE d.q IS DISTINCT FROM r.q
        )
    """
    TABLES = {"monthly": "tenant_monthly_usage", "daily": "tenant_daily_usage",
              "records": "fct_usage_records"}


    def observe(con, tables):
        count, total = con.execute(TOTALS.format(**tables)).fetchone()
        bad = con.execute(UNRECONCILED.format(**tables)).fetchone()[0]
        return {"count": count, "sum": total, "unreconciled": bad}


    def parquet_tables(folder):
        return {k: f"read_parquet('{folder}/{v}.parquet/*.parquet')" for k, v in TABLES.items()}


    held = duckdb.connect(database, read_only=True) if mode == "hold" else None
    with open(out, "a", buffering=1) as log:
        while not os.path.exists(stop):
            t = time.time()
            try:
                if mode == "hold":
                    seen = observe(held, TABLES)
                elif mode == "reopen":
                    con = duckdb.connect(database, read_only=True)
                    try:
                        seen = observe(con, TABLES)
                    finally:
                        con.close()
                else:
                    con = duckdb.connect()
                    try:
                        # one version folder for all three tables: a consistent snapshot
                        version = os.path.realpath(os.path.join(published, "parquet"))
                        seen = observe(con, parquet_tables(version))
                        # and one table through the published path, as an analyst reads it:
                        # the link resolved once, so the files listed and read are one version's
                        direct = os.path.realpath(os.path.join(
                            published, "parquet", "tenant_monthly_usage.parquet"))
                        count, total = con.execute(TOTALS.format(
                            monthly=f"read_parquet('{direct}/*.parquet')")).fetchone()
                        seen["direct"] = [count, total]
                    finally:
                        con.close()
                log.write(json.dumps({"t": t, **seen}) + "\\n")
            except Exception as err:  # recorded, never fatal: the test asserts there is none
                log.write(json.dumps({"t": t, "error": f"{type(err).__name__}: {err}"}) + "\\n")
            time.sleep(0.02)
    '''
)

READERS = ("hold", "reopen", "parquet")


def monthly_totals(published: Path) -> tuple[int, str]:
    con = duckdb.connect(str(published / "marts.duckdb"), read_only=True)
    try:
        count, total = con.execute(
            "SELECT count(*), sum(quantity)::VARCHAR FROM tenant_monthly_usage"
        ).fetchone()
    finally:
        con.close()
    return count, total


def observations(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def published_home(sample_home: Path, monkeypatch) -> Path:
    """The sample delivery run and published once."""
    monkeypatch.setenv("DAGSTER_HOME", str(sample_home / "dagster"))
    # the run points dbt at its home through the environment: undone after the test
    monkeypatch.setenv("METERLINE_HOME", str(sample_home))
    monkeypatch.delenv("DBT_LOG_PATH", raising=False)
    result = CliRunner().invoke(main, ["run", "--home", str(sample_home)])
    assert result.exit_code == 0, result.output
    return sample_home


def test_readers_in_other_processes_never_block_the_run_nor_see_an_unchecked_state(
    published_home: Path, tmp_path: Path
):
    published = published_home / "published"
    old = monthly_totals(published)

    delivery = published_home / "raw" / "events" / "2026-10-04"
    delivery.mkdir(parents=True)
    (delivery / "events.jsonl").write_text("\n".join(NEW_EVENTS) + "\n")

    script = tmp_path / "reader.py"
    script.write_text(READER)
    stop = tmp_path / "stop"
    logs = {mode: tmp_path / f"{mode}.jsonl" for mode in READERS}
    readers = {
        mode: subprocess.Popen(
            [sys.executable, str(script), str(published), mode, str(logs[mode]), str(stop)],
            stderr=subprocess.PIPE,
        )
        for mode in READERS
    }
    try:
        # every reader holds or reads the published state before the run starts
        wait_until(lambda: all(observations(p) for p in logs.values()), 60, "the readers")
        run_started = time.time()
        result = CliRunner().invoke(main, ["run", "--home", str(published_home)])
        run_ended = time.time()
        # the run succeeded although a reader held the published file open all along
        assert result.exit_code == 0, result.output
        new = monthly_totals(published)
        swapped_at = (published / "marts.duckdb").stat().st_mtime

        def saw_new(mode: str) -> bool:
            return any(o.get("count") == new[0] for o in observations(logs[mode]))

        def held_after_run() -> bool:
            return any(o["t"] > run_ended for o in observations(logs["hold"]))

        wait_until(lambda: saw_new("reopen") and saw_new("parquet"), 30, "the new state")
        wait_until(held_after_run, 30, "a read of the held connection after the run")
    finally:
        stop.touch()
        for mode, reader in readers.items():
            try:
                reader.wait(timeout=30)
            except subprocess.TimeoutExpired:
                reader.kill()
                reader.wait()
            assert reader.returncode == 0, f"{mode} reader: {reader.stderr.read().decode()}"
            reader.stderr.close()

    # the new delivery changed the published totals by exactly its new usage (the re-delivered
    # sample event is a duplicate): 5 api_call + 1.5 voice_minute + 2 storage_mb in 2 new rows
    assert new[0] == old[0] + 2
    assert Decimal(new[1]) - Decimal(old[1]) == Decimal("8.5")
    states = {old: "old", new: "new"}

    seen = {mode: observations(logs[mode]) for mode in READERS}
    for mode, reads in seen.items():
        assert len(reads) >= 10, f"{mode} read only {len(reads)} times"
        # the writer never blocked a reader: no lock (or any other) error, ever
        errors = [o["error"] for o in reads if "error" in o]
        assert errors == [], f"{mode} reader failed: {errors[:3]}"
        # every snapshot is a complete published state, and reconciled inside itself
        for o in reads:
            assert (o["count"], o["sum"]) in states, f"{mode} saw a half state: {o}"
            assert o["unreconciled"] == 0, f"{mode} saw an unreconciled state: {o}"
            if "direct" in o:
                assert tuple(o["direct"]) in states, f"{mode} read a half Parquet file: {o}"

    # the analyst holding the file open kept the old, complete state across the swap ...
    hold = seen["hold"]
    assert hold[0]["t"] < run_started and hold[-1]["t"] > max(swapped_at, run_ended)
    assert {(o["count"], o["sum"]) for o in hold} == {old}
    # ... while new connections and the Parquet files went from the old state to the new one
    for mode in ("reopen", "parquet"):
        sequence = [states[(o["count"], o["sum"])] for o in seen[mode]]
        assert sequence[0] == "old" and sequence[-1] == "new", mode
        assert "old" not in sequence[sequence.index("new") :], f"{mode} went back to the old state"
