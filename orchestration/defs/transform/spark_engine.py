"""The dbt step on Spark (`meterline run --engine spark`, docs/scale-out.md).

dbt builds the same models with the `spark` target of dbt_project/profiles.yml: a local pyspark
session whose tables are Parquet folders under `$METERLINE_HOME/spark/warehouse/main.db/`. The
tables are then brought into the DuckDB build warehouse, and the views (staging,
`int_usage_records_unioned`) are created there by dbt on DuckDB over them, so the checks and
publish read `warehouse/build.duckdb` exactly as after a DuckDB build.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb

from orchestration.core.settings import duckdb_memory_limit
from orchestration.core.sql_text import sql_literal

ENGINES = ("duckdb", "spark")
# The run tag that picks the engine of the dbt step (the CLI sets it; a run launched from the
# Dagster UI may too); absent = duckdb.
ENGINE_TAG = "meterline/engine"
DBT_TARGETS = {"duckdb": "local", "spark": "spark"}


def spark_tables_dir(home: Path) -> Path:
    """Where the Spark session keeps the tables of schema `main` (spark.sql.warehouse.dir)."""
    return home / "spark" / "warehouse" / "main.db"


def spark_tables(home: Path) -> list[str]:
    """The tables the last Spark build wrote, by name."""
    folder = spark_tables_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.parquet")))


def spark_table_scan(home: Path, table: str) -> str:
    """A DuckDB expression reading one Spark table's Parquet files."""
    return f"read_parquet({sql_literal(str(spark_tables_dir(home) / table / '*.parquet'))})"


def import_spark_tables(home: Path, warehouse: Path, tables: list[str] | None = None) -> list[str]:
    """Replace the tables of `warehouse` (schema main) with the Spark build's; returns them.

    Types carry over: DECIMAL(38,12) stays exact, Spark timestamps are written as UTC instants
    (profiles.yml) and arrive as TIMESTAMPTZ, counts as BIGINT.
    """
    tables = spark_tables(home) if tables is None else tables
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), config={"memory_limit": duckdb_memory_limit()})
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN")
        for table in tables:
            # a view of that name (from an older build) would block CREATE TABLE
            con.execute(f'DROP VIEW IF EXISTS main."{table}"')
            con.execute(
                f'CREATE OR REPLACE TABLE main."{table}" AS SELECT * FROM {spark_table_scan(home, table)}'
            )
        con.execute("COMMIT")
    finally:
        con.close()
    return tables


# Spark's own log: errors only, to stderr (its WARN lines would flood the terminal of a CLI run).
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def prepare_spark_home(home: Path) -> Path:
    """`$METERLINE_HOME/spark/` with the log configuration the spark profile points at."""
    folder = home / "spark"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "log4j2.properties"
    if not config.exists() or config.read_text() != _LOG4J2:
        config.write_text(_LOG4J2)
    return folder


def create_views_on_duckdb(
    dbt_executable: str, project_dir: Path, target_path: Path, log_path: Path
) -> None:
    """The view models (staging, int_usage_records_unioned) on DuckDB, over the imported tables:
    they compute nothing, so the checks read the same rows the Spark build made. A full refresh,
    like the Spark build: the staging views read all of bronze, not an incremental run's batch."""
    done = subprocess.run(
        [dbt_executable, "run", "--quiet", "--full-refresh", "--select", "config.materialized:view",
         "--target", DBT_TARGETS["duckdb"], "--project-dir", str(project_dir),
         "--profiles-dir", str(project_dir), "--target-path", str(target_path),
         "--log-path", str(log_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout).strip()
        raise RuntimeError(f"dbt could not create the views on DuckDB: {output[-2000:]}")
