"""Faults: a run killed mid-way, corrupted raw files and a failed check never leave the analysts a
half-published or unreconciled state, never stop the pipeline for good, and never count twice.

Homes: `base_home` is the sample delivery (2026-10-03) run once and published; the fault tests
work on copies of it. `reference_home` is one clean, uninterrupted run over the sample delivery
and a second delivery (2026-10-04: new usage, a re-delivered event, corrupted files): what any
interrupted sequence of runs over the same raw files must end up publishing.
"""

import gzip
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import orchestration.defs.checks.reconciliation_checks as reconciliation_checks_asset
import orchestration.defs.publish.publish
from orchestration.cli import main
from orchestration.defs.publish.publish import PUBLISHED_TABLES

# faults: each test runs the whole pipeline around an injected failure (make test-slow)
pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
SOURCES = ("events", "usage_logs", "traces", "sessions")
SECOND_DAY = "2026-10-04"

# New October usage for acme and globex, late September usage, an exact re-delivery of a sample
# event (a duplicate: it must not count twice).
NEW_EVENTS = [
    '{"id":"2f1c6a0e-0101","business_id":"acme","event_type":"api_call","quantity":5,'
    '"created_at":"2026-10-04T09:00:00Z"}',
    '{"id":"2f1c6a0e-0102","business_id":"globex","event_type":"voice_minute","quantity":"1.5",'
    '"created_at":"2026-10-04T09:30:00Z"}',
    '{"id":"2f1c6a0e-0103","business_id":"acme","event_type":"storage_mb","quantity":2,'
    '"created_at":"2026-09-30T23:59:59Z"}',
    (SAMPLES / "events.jsonl").read_text().splitlines()[0],
]


def binary_garbage() -> bytes:
    """A PNG dropped into the landing zone (its signature holds two line feeds: three lines),
    three lines of binary junk (NUL, CR, invalid UTF-8) and a line that is JSON but for the
    invalid UTF-8 bytes in front of it: seven malformed_json items."""
    rng = random.Random(7)
    junk = [b"\x89PNG\r\n\x1a\n\x00" + bytes(b for b in rng.randbytes(300) if b != 0x0A)]
    junk += [b"\x00\xff" + bytes(b for b in rng.randbytes(200) if b != 0x0A) for _ in range(3)]
    junk.append(
        b'\xff\xfe{"id":"junk-1","business_id":"acme","event_type":"api_call","quantity":1,'
        b'"created_at":"2026-10-04T10:00:00Z"}'
    )
    return b"\n".join(junk) + b"\n"


GARBAGE_LINES = 7
# JSON lines that are well formed but for invalid UTF-8 inside a string: not valid JSON (RFC 8259
# texts are UTF-8), so SPEC 2.5 makes each one malformed_json item.
INVALID_UTF8 = (
    b'{"id":"u8-1","business_id":"initech\xff","event_type":"voice_minute","quantity":1,'
    b'"created_at":"2026-10-04T11:00:00Z"}\n'
    b'{"id":"u8-2\xc3\x28","business_id":"initech","event_type":"voice_minute","quantity":1,'
    b'"created_at":"2026-10-04T11:00:00Z"}\n'
)


def add_sample_delivery(home: Path) -> None:
    for source in SOURCES:
        folder = home / "raw" / source / "2026-10-03"
        folder.mkdir(parents=True)
        shutil.copy(SAMPLES / f"{source}.jsonl", folder)


def add_second_delivery(home: Path) -> None:
    folder = home / "raw" / "events" / SECOND_DAY
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("\n".join(NEW_EVENTS) + "\n")
    (folder / "garbage.jsonl").write_bytes(binary_garbage())
    (folder / "invalid_utf8.jsonl").write_bytes(INVALID_UTF8)


def run_cli(home: Path, *args: str) -> object:
    """`meterline run` in this process; the environment the run sets for dbt is undone after."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.setenv("METERLINE_HOME", str(home))
        mp.delenv("DBT_LOG_PATH", raising=False)
        return CliRunner().invoke(main, ["run", "--home", str(home), *args])


def copy_home(source: Path, target: Path) -> Path:
    # symlinks=True: `published/parquet` stays the relative link the publish step swaps
    shutil.copytree(source, target, symlinks=True)
    return target


def published_state(home: Path) -> dict[str, str]:
    """What analysts read: the DuckDB file and the Parquet files behind the `parquet` link."""
    published = home / "published"
    state = {
        "marts.duckdb": hashlib.sha256((published / "marts.duckdb").read_bytes()).hexdigest(),
        "parquet ->": str((published / "parquet").resolve()),
    }
    # one directory of month files per table
    for parquet in sorted((published / "parquet").glob("*/*.parquet")):
        name = f"parquet/{parquet.parent.name}/{parquet.name}"
        state[name] = hashlib.sha256(parquet.read_bytes()).hexdigest()
    return state


def query(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def published_rows(home: Path) -> dict[str, list[tuple]]:
    database = home / "published" / "marts.duckdb"
    return {t: query(database, f"SELECT * FROM {t} ORDER BY ALL") for t in PUBLISHED_TABLES}


@pytest.fixture(scope="module")
def base_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("base")
    add_sample_delivery(home)
    result = run_cli(home)
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture(scope="module")
def reference_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("reference")
    add_sample_delivery(home)
    add_second_delivery(home)
    result = run_cli(home)
    assert result.exit_code == 0, result.output
    return home


def test_reference_run_counts_the_second_delivery_once(reference_home: Path):
    monthly = {
        (str(month), tenant, meter): (quantity, count)
        for month, tenant, meter, quantity, count in published_rows(reference_home)[
            "tenant_monthly_usage"
        ]
    }
    # samples README: acme api_call 3 (1 event + 2 session steps); + 5 new; the re-delivered
    # event 2f1c6a0e-0001 is a duplicate
    assert monthly[("2026-10-01", "acme", "api_call")] == (Decimal(8), 4)
    assert monthly[("2026-10-01", "globex", "voice_minute")] == (Decimal("1.5"), 1)
    assert monthly[("2026-09-01", "acme", "storage_mb")] == (Decimal(2), 1)


def test_binary_garbage_is_quarantined_as_malformed_json_and_not_fatal(reference_home: Path):
    # the reference run, which holds the garbage file, exited 0 (see the fixture)
    database = reference_home / "published" / "marts.duckdb"
    garbage = f"events/{SECOND_DAY}/garbage.jsonl"
    quarantined = query(
        database,
        f"SELECT line_number, reason, length(raw) > 0 FROM quarantine WHERE file = '{garbage}' "
        "ORDER BY line_number",
    )
    assert quarantined == [(n, "malformed_json", True) for n in range(1, GARBAGE_LINES + 1)]
    audit = query(
        database,
        "SELECT lines_read, items_read, accepted, duplicates, conflicts, quarantined "
        f"FROM ingest_audit WHERE file = '{garbage}'",
    )
    assert audit == [(GARBAGE_LINES, GARBAGE_LINES, 0, 0, 0, GARBAGE_LINES)]


def test_invalid_utf8_lines_are_quarantined_as_malformed_json(reference_home: Path):
    database = reference_home / "published" / "marts.duckdb"
    bad_file = f"events/{SECOND_DAY}/invalid_utf8.jsonl"
    quarantined = query(
        database,
        f"SELECT line_number, reason FROM quarantine WHERE file = '{bad_file}' ORDER BY 1",
    )
    assert quarantined == [(1, "malformed_json"), (2, "malformed_json")]
    assert query(database, "SELECT * FROM fct_usage_records WHERE tenant_id LIKE 'initech%'") == []


def test_truncated_gzip_is_quarantined_and_not_fatal(tmp_path: Path):
    home = tmp_path / "home"
    folder = home / "raw" / "events" / SECOND_DAY
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text(NEW_EVENTS[0] + "\n")
    rng = random.Random(11)
    lines = b"".join(
        b'{"id":"gz-%d","business_id":"acme","event_type":"api_call","quantity":1,'
        b'"created_at":"2026-10-04T12:00:00Z","note":"%s"}\n'
        % (i, rng.randbytes(24).hex().encode())
        for i in range(40)
    )
    compressed = gzip.compress(lines, mtime=0)
    (folder / "cut.jsonl.gz").write_bytes(compressed[: len(compressed) * 2 // 3])

    result = run_cli(home)

    assert result.exit_code == 0, result.output
    database = home / "published" / "marts.duckdb"
    cut = f"events/{SECOND_DAY}/cut.jsonl.gz"
    # the lines that arrived whole count; the cut last line is one malformed_json item
    (accepted, quarantined), *more = query(
        database, f"SELECT accepted, quarantined FROM ingest_audit WHERE file = '{cut}'"
    )
    assert more == [] and accepted >= 1 and quarantined == 1
    reasons = query(database, f"SELECT reason FROM quarantine WHERE file = '{cut}'")
    assert reasons == [("malformed_json",)]
    # the good file of the same delivery is counted
    assert query(
        database,
        "SELECT count(*) FROM fct_usage_records WHERE record_key LIKE 'events:2f1c6a0e-0101:%'",
    ) == [(1,)]


def test_failed_check_exits_1_naming_tenant_meter_and_day(base_home: Path, tmp_path: Path):
    home = copy_home(base_home, tmp_path / "home")
    before = published_state(home)
    real_run_rules = reconciliation_checks_asset.run_rules

    def run_rules_on_a_broken_mart(warehouse, home_dir, **kwargs):
        # a bug in a mart: one tenant's daily api_call quantity is off by one
        con = duckdb.connect(str(warehouse))
        con.execute(
            "UPDATE tenant_daily_usage SET quantity = quantity + 1 "
            "WHERE tenant_id = 'acme' AND meter = 'api_call'"
        )
        con.close()
        return real_run_rules(warehouse, home_dir, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reconciliation_checks_asset, "run_rules", run_rules_on_a_broken_mart)
        # a run that builds and checks everything: with nothing new a run builds nothing (SPEC 9)
        result = run_cli(home, "--full-refresh")

    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("check failed: ")]
    daily = [line for line in failed if "daily_usage_matches_bronze" in line]
    assert daily, result.output
    assert "acme" in daily[0] and "api_call" in daily[0] and "2026-10-03" in daily[0], daily
    assert "nothing was published" in result.output
    assert (home / "warehouse" / "CHECKS_FAILED.json").exists()
    assert published_state(home) == before


def new_dbt_log(log: Path, offset: int) -> str:
    if not log.exists():
        return ""
    with log.open("rb") as f:
        if log.stat().st_size >= offset:
            f.seek(offset)
        return f.read().decode("utf-8", errors="replace")


def start_meterline_run(home: Path, output: Path) -> subprocess.Popen:
    """`meterline run` in its own process group, so one signal reaches its dbt child too."""
    with output.open("wb") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("meterline")), "run", "--home", str(home)],
            env={**os.environ, "DAGSTER_HOME": str(home / "dagster")},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def killed_home(base_home: Path, tmp_path_factory) -> dict:
    """A published home with a second delivery whose `meterline run` was SIGKILLed (with its dbt
    child) as soon as dbt had built a first model into the warehouse: a crash mid `dbt build`."""
    home = copy_home(base_home, tmp_path_factory.mktemp("killed") / "home")
    add_second_delivery(home)
    last_published = published_state(home)
    dbt_log = home / "warehouse" / "dbt_target" / "dbt.log"
    offset = dbt_log.stat().st_size if dbt_log.exists() else 0
    output = home.parent / "killed_run.out"
    run = start_meterline_run(home, output)
    try:
        deadline = time.monotonic() + 180
        while '"LogModelResult"' not in new_dbt_log(dbt_log, offset):
            assert run.poll() is None, (
                f"the run ended before dbt built a model: {output.read_text()}"
            )
            assert time.monotonic() < deadline, "dbt did not start"
            time.sleep(0.02)
    finally:
        kill_group(run)
    return {
        "home": home,
        "last_published": last_published,
        "returncode": run.returncode,
        "dbt_log": new_dbt_log(dbt_log, offset),
    }


def test_run_killed_during_dbt_keeps_the_published_state(killed_home: dict):
    assert killed_home["returncode"] == -signal.SIGKILL
    # killed in the middle of the build: dbt had built a model but never reported its end
    assert '"LogModelResult"' in killed_home["dbt_log"]
    assert '"FinishedRunningStats"' not in killed_home["dbt_log"]
    assert published_state(killed_home["home"]) == killed_home["last_published"]


def invoice_cli(home: Path) -> object:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        args = [
            "invoice",
            "--home",
            str(home),
            "--month",
            "2026-10",
            "--now",
            "2026-10-20T00:00:00Z",
        ]
        return CliRunner().invoke(main, args)


def test_invoicing_refuses_after_the_killed_run_naming_it(killed_home: dict):
    import dagster as dg

    home = killed_home["home"]
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    killed = [r.run_id for r in instance.get_runs(limit=1)][0]
    instance.dispose()
    result = invoice_cli(home)
    assert result.exit_code == 1
    assert f"the last pipeline run {killed}" in result.output
    assert not (home / "invoices" / "2026-10").exists()


def pool_held_by_dead_run(dagster_home: Path, dead_runs: set[str]) -> str | None:
    """Why the next run cannot start: a `duckdb_writer` pool slot still claimed by a killed run
    while another step waits for it; None when that is not (or no longer) the case."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
    finally:
        instance.dispose()
    held = [slot for slot in info.claimed_slots if slot.run_id in dead_runs]
    if held and info.pending_steps:
        return (
            f"pool duckdb_writer: slot still claimed by killed run {held[0].run_id} "
            f"({held[0].step_key}); waiting: {[p.step_key for p in info.pending_steps]}"
        )
    return None


def test_next_run_after_a_kill_completes_without_double_counting(
    killed_home: dict, reference_home: Path
):
    import dagster as dg

    home = killed_home["home"]
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    dead_runs = {r.run_id for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED}
    instance.dispose()
    output = home.parent / "next_run.out"
    run = start_meterline_run(home, output)
    try:
        deadline = time.monotonic() + 300
        blocked_since = None
        while run.poll() is None:
            assert time.monotonic() < deadline, f"the run did not end: {output.read_text()}"
            blocked = pool_held_by_dead_run(home / "dagster", dead_runs)
            blocked_since = (blocked_since or time.monotonic()) if blocked else None
            # a normal run holds the pool for seconds; 15 s behind a dead run's slot is a hang
            assert not (blocked_since and time.monotonic() - blocked_since > 15), blocked
            time.sleep(0.5)
    finally:
        kill_group(run)
    assert run.returncode == 0, output.read_text()
    assert published_rows(home) == published_rows(reference_home)
    assert invoice_cli(home).exit_code == 0  # the run published: invoicing may go on


def test_run_failing_in_publish_keeps_the_published_state_and_the_next_run_recovers(
    base_home: Path, reference_home: Path, tmp_path: Path
):
    home = copy_home(base_home, tmp_path / "home")
    add_second_delivery(home)
    published = home / "published"
    last_published = published_state(home)

    # the run ingests, builds and passes every check, then dies in publish once the new version
    # is written, just before the one rename that makes it current
    staged = []
    real_replace = os.replace

    def crash_before_swap(src, dst, *args, **kwargs):
        if Path(dst).name == "current":
            staged.append(Path(src).resolve())
            raise OSError("simulated crash between writing the new version and the swap")
        return real_replace(src, dst, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(orchestration.defs.publish.publish.os, "replace", crash_before_swap)
        result = run_cli(home)
    assert result.exit_code == 1, result.output
    assert "published_marts" in result.output
    assert staged and (staged[0] / "marts.duckdb").stat().st_size > 0
    assert published_state(home) == last_published

    # the next run recovers: exit 0, and it publishes exactly what one clean run over the same
    # raw files publishes (the delivery ingested by the failed run is not counted twice)
    with pytest.MonkeyPatch.context() as mp:
        # versions are kept an hour for analysts reading them: here they are all older than that
        mp.setattr(orchestration.defs.publish.publish, "PRUNE_GRACE", timedelta(0))
        result = run_cli(home)
    assert result.exit_code == 0, result.output
    assert "none new" in result.output
    assert published_rows(home) == published_rows(reference_home)
    assert published_state(home) != last_published
    assert (published / "current").resolve() != staged[0]  # the failed run's version never served
    assert len(list((published / "versions").iterdir())) <= 3  # old versions are pruned
