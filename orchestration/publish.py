"""Write-audit-publish, last step: copy the checked marts to where analysts read them, atomically.

`published/marts.duckdb` is replaced by a rename, so an analyst holding the old file open keeps
reading the old, complete state and never blocks the pipeline. The Parquet copies are written to a
new version folder and `published/parquet` (a symlink) is swapped to it in one rename.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.sql_text import sql_literal

# SPEC 7: the tables analysts get, in schema main.
PUBLISHED_TABLES = (
    "fct_trace_sessions",
    "fct_usage_records",
    "tenant_daily_usage",
    "tenant_monthly_usage",
    "agent_daily_stats",
    "platform_daily_cost",
    "quarantine",
    "ingest_audit",
)
# Older DuckDB readers (1.4+, e.g. an analyst's CLI or DBeaver) can open the published file.
STORAGE_COMPATIBILITY = "v1.4.0"
_KEEP_PARQUET_VERSIONS = 2


def publish_marts(
    warehouse: Path, published: Path, invoice_lines_sql: str, tables=PUBLISHED_TABLES
) -> dict[str, int]:
    """Copy `tables` from the build warehouse, and the invoice lines, to the published file and
    Parquet; returns the row count of each table."""
    published.mkdir(parents=True, exist_ok=True)
    for leftover in published.glob(".marts-*.duckdb*"):  # from a run killed mid-publish
        leftover.unlink()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging_db = published / f".marts-{stamp}.duckdb"
    version_dir = published / "parquet_versions" / stamp
    version_dir.mkdir(parents=True)
    counts: dict[str, int] = {}
    con = duckdb.connect(
        str(staging_db),
        config={"storage_compatibility_version": STORAGE_COMPATIBILITY},
    )
    try:
        con.execute(f"ATTACH {sql_literal(warehouse)} AS build (READ_ONLY)")
        sources = {table: f"SELECT * FROM build.main.{table}" for table in tables}
        sources["fct_invoice_lines"] = invoice_lines_sql
        for table, query in sources.items():
            con.execute(f"CREATE TABLE main.{table} AS {query}")
            con.execute(
                f"COPY main.{table} TO {sql_literal(version_dir / (table + '.parquet'))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            counts[table] = con.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0]
        con.execute("DETACH build")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(staging_db, published / "marts.duckdb")
    _swap_symlink(published / "parquet", version_dir)
    _prune_parquet_versions(published / "parquet_versions", keep=version_dir)
    return counts


def republish_table(published: Path, table: str, query: str) -> int:
    """Replace one table of the published marts (e.g. fct_invoice_lines after invoicing) with the
    same atomic swap: the other tables are carried over unchanged. Returns its row count."""
    current = published / "marts.duckdb"
    if not current.exists():
        return 0
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging_db = published / f".marts-{stamp}.duckdb"
    shutil.copyfile(current, staging_db)
    version_dir = published / "parquet_versions" / stamp
    version_dir.mkdir(parents=True)
    for parquet in (published / "parquet").glob("*.parquet"):
        if parquet.stem != table:
            os.link(parquet.resolve(), version_dir / parquet.name)
    con = duckdb.connect(str(staging_db))
    try:
        con.execute(f"CREATE OR REPLACE TABLE main.{table} AS {query}")
        con.execute(
            f"COPY main.{table} TO {sql_literal(version_dir / (table + '.parquet'))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        count = con.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(staging_db, current)
    _swap_symlink(published / "parquet", version_dir)
    _prune_parquet_versions(published / "parquet_versions", keep=version_dir)
    return count


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target.relative_to(link.parent), target_is_directory=True)
    os.replace(tmp, link)


def _prune_parquet_versions(versions: Path, keep: Path) -> None:
    old = sorted(p for p in versions.iterdir() if p.is_dir() and p != keep)
    for stale in old[: max(0, len(old) - (_KEEP_PARQUET_VERSIONS - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
