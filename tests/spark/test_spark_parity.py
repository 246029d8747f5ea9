"""`make test-spark`: the dbt models on Spark equal DuckDB's, row for row (issue 16).

One generated month (a few thousand items plus every trap line the generator writes: duplicates,
conflicts, every quarantine reason, late and keyless lines, rootless and failed traces, unpriced
models) goes through `meterline run --engine spark`: ingestion, dbt on a local Spark session, the
checks and publish on the imported tables. The same bronze is then built by dbt on DuckDB, and
every table is compared. Slow (a JVM per dbt invocation), so not part of `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.core.sql_text import sql_literal
from orchestration.defs.publish.publish import PUBLISHED_TABLES
from orchestration.defs.transform.spark_engine import (
    prepare_spark_home,
    spark_table_scan,
    spark_tables,
)

from .parity import table_differences

pytestmark = pytest.mark.spark

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
GENERATE = ["--month", "2026-10", "--tenants", "4", "--events", "3000", "--seed", "11"]
REASONS = {"malformed_json", "missing_tenant", "bad_timestamp", "future_timestamp",
           "unknown_meter", "bad_quantity"}  # fmt: skip


@dataclass
class Builds:
    spark_home: Path  # `meterline run --engine spark`
    duckdb_home: Path  # the same bronze, built by dbt on DuckDB

    @property
    def duckdb_warehouse(self) -> Path:
        return self.duckdb_home / "warehouse" / "build.duckdb"


def cli(home: Path, *args: str) -> None:
    result = CliRunner().invoke(main, [args[0], "--home", str(home), *args[1:]])
    assert result.exit_code == 0, f"meterline {' '.join(args)}: {result.output}{result.exception!r}"


def dbt(home: Path, target: str, *args: str) -> subprocess.CompletedProcess:
    """dbt on `target` against `home`, in a target folder of its own."""
    prepare_spark_home(home)
    return subprocess.run(
        [str(DBT), *args, "--target", target, "--profiles-dir", str(DBT_PROJECT),
         "--project-dir", str(DBT_PROJECT), "--target-path", str(home / f"dbt-{target}"),
         "--log-path", str(home / f"dbt-{target}")],
        env={**os.environ, "METERLINE_HOME": str(home), "DO_NOT_TRACK": "1"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def output(done: subprocess.CompletedProcess) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)[-3000:]


@pytest.fixture(scope="module")
def builds() -> Iterator[Builds]:
    # a folder of its own, not pytest's tmp_path: the module runs for many minutes, and pytest
    # sessions started meanwhile on the same machine prune older sessions' temp folders
    root = Path(tempfile.mkdtemp(prefix="meterline-test-spark-"))
    spark_home = root / "spark-home"
    duckdb_home = root / "duckdb-home"
    spark_home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(spark_home / "dagster"))
        mp.delenv("METERLINE_HOME", raising=False)
        cli(spark_home, "generate", *GENERATE)
        cli(spark_home, "run", "--engine", "spark")
    shutil.copytree(spark_home / "bronze", duckdb_home / "bronze")
    (duckdb_home / "warehouse").mkdir()
    # the batch the Spark run built from: every bronze file (a Spark build is a full refresh,
    # and so is this one: its staging reads all of bronze, not a run's batch folder)
    shutil.copy(spark_home / "warehouse" / "batch_files.parquet", duckdb_home / "warehouse")
    done = dbt(
        duckdb_home, "local", "build", "--full-refresh", "--exclude-resource-type", "unit_test"
    )
    assert done.returncode == 0, output(done)
    yield Builds(spark_home, duckdb_home)
    shutil.rmtree(root, ignore_errors=True)


def test_the_month_holds_every_trap(builds: Builds):
    """The comparison below means something only if the month has every case to get wrong."""
    con = duckdb.connect(str(builds.duckdb_warehouse), read_only=True)
    try:
        duplicates, conflicts = con.execute(
            "SELECT sum(duplicates), sum(conflicts) FROM ingest_audit"
        ).fetchone()
        reasons = {r for (r,) in con.execute("SELECT DISTINCT reason FROM quarantine").fetchall()}
        statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM fct_trace_sessions")
                    .fetchall()}  # fmt: skip
        cost_sources = {c for (c,) in con.execute(
            "SELECT DISTINCT cost_source FROM fct_usage_records").fetchall()}  # fmt: skip
    finally:
        con.close()
    assert duplicates > 0 and conflicts > 0
    assert reasons == REASONS
    assert {"ok", "error", "no_root"} <= statuses
    assert cost_sources == {"source", "catalog", "unpriced", "none"}


def test_every_table_spark_built_equals_duckdb(builds: Builds):
    """Every table of the Spark build (intermediate and marts), read from its Parquet files."""
    tables = spark_tables(builds.spark_home)
    # fct_trace_sessions is a view over int_traces_assembled (compared here as a table); the
    # published marts, views included, are compared by the next test
    assert set(PUBLISHED_TABLES) - {"fct_trace_sessions"} <= set(tables)
    assert "int_traces_assembled" in tables
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH {sql_literal(builds.duckdb_warehouse)} AS duck (READ_ONLY)")
        problems = [
            problem
            for table in tables
            for problem in table_differences(
                con, table, f'duck.main."{table}"', spark_table_scan(builds.spark_home, table)
            )
        ]
    finally:
        con.close()
    assert not problems, "\n".join(problems)


def test_published_marts_of_the_spark_run_equal_duckdb(builds: Builds):
    """`meterline run --engine spark` passed its checks and published the Spark results."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH {sql_literal(builds.duckdb_warehouse)} AS duck (READ_ONLY)")
        published = builds.spark_home / "published" / "marts.duckdb"
        con.execute(f"ATTACH {sql_literal(published)} AS published (READ_ONLY)")
        problems = [
            problem
            for table in PUBLISHED_TABLES
            for problem in table_differences(
                con, table, f'duck.main."{table}"', f'published.main."{table}"'
            )
        ]
        rows = con.execute("SELECT count(*) FROM published.main.fct_usage_records").fetchone()[0]
    finally:
        con.close()
    assert not problems, "\n".join(problems)
    assert rows > 3000


def test_dbt_unit_tests_pass_on_spark(builds: Builds):
    """The dbt unit tests (canonical JSON included) on Spark; `make test` runs them on DuckDB."""
    done = dbt(builds.spark_home, "spark", "test", "--select", "test_type:unit")
    assert done.returncode == 0, output(done)
    assert re.search(r"PASS=(\d+) WARN=0 ERROR=0", output(done))


@pytest.mark.parametrize(
    ("engine", "target"), [("duckdb", "local"), ("spark", "spark")], ids=["duckdb", "spark"]
)
def test_an_overflowing_sum_fails_the_build_on_both_engines(
    builds: Builds, engine: str, target: str
):
    """Two quantities of 6 x 10^25 sum past DECIMAL(38, 12) (26 integer digits): DuckDB raises an
    error; Spark, with ANSI mode off, would return NULL (then 0 through a coalesce), so
    sum_exact raises it there. Both engines fail alike."""
    home = builds.spark_home if engine == "spark" else builds.duckdb_home
    inline = (
        "select {{ sum_exact('q') }} as total from (select cast('60000000000000000000000000' "
        "as decimal(38, 12)) as q union all select cast('60000000000000000000000000' "
        "as decimal(38, 12)))"
    )
    done = dbt(home, target, "show", "--inline", inline)
    assert done.returncode != 0, output(done)
    assert "overflow" in output(done).lower()
