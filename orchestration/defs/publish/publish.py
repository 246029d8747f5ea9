"""Write-audit-publish, last step: the checked marts, published for analysts in one atomic swap.

Each publish writes a new version folder `published/versions/<stamp>/` holding `marts.duckdb` and
`parquet/<table>.parquet`, then swaps the symlink `published/current` to it with one rename.
`published/marts.duckdb` and `published/parquet` are fixed links through `current`, so the DuckDB
file and the Parquet files always change together. An analyst holding an older version open keeps
reading that complete state and never blocks the pipeline (old versions are pruned; an open file
stays readable until it is closed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.core.settings import duckdb_memory_limit
from orchestration.core.sql_text import sql_literal

# SPEC 7: the tables analysts get, in schema main (plus the invoice tables, from invoicing).
PUBLISHED_TABLES = (
    "fct_trace_sessions",
    "fct_usage_records",
    "tenant_daily_usage",
    "tenant_monthly_usage",
    "agent_daily_stats",
    "platform_daily_cost",
    "unpriced_usage",
    "quarantine",
    "ingest_audit",
    "team_daily_stats",
    "platform_daily_stats",
    "feature_monthly_usage",
)
# Older DuckDB readers (1.4+, e.g. an analyst's CLI or DBeaver) can open the published file.
STORAGE_COMPATIBILITY = "v1.4.0"
_KEEP_VERSIONS = 3


# Called with a new version's marts.duckdb before it becomes current; raises to refuse it.
Audit = Callable[[Path], None]


class AuditRefusedError(RuntimeError):
    """An audit refused a new published version: the previous one stays current. `rule` names
    the blocking check that failed (it is what `meterline run` reports)."""

    def __init__(self, rule: str, summary: str):
        super().__init__(summary)
        self.rule = rule


def publish_marts(
    warehouse: Path,
    published: Path,
    invoice_tables: Mapping[str, str],
    tables=PUBLISHED_TABLES,
    audit: Audit | None = None,
) -> dict[str, int]:
    """Copy `tables` from the build warehouse, and the invoice tables (name -> query, run in
    order after them), into a new published version; once `audit` accepts it, make it current.
    Returns the row count of each table."""
    version = _new_version(published)
    sources = {table: f"SELECT * FROM build.main.{table}" for table in tables}
    sources.update(invoice_tables)
    con = duckdb.connect(
        str(version / "marts.duckdb"),
        config={
            "storage_compatibility_version": STORAGE_COMPATIBILITY,
            "memory_limit": duckdb_memory_limit(),
        },
    )
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH {sql_literal(warehouse)} AS build (READ_ONLY)")
        counts = _write_tables(con, version, sources)
        con.execute("DETACH build")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _audit_and_make_current(published, version, audit)
    return counts


def republish_tables(
    published: Path, queries: Mapping[str, str], audit: Audit | None = None
) -> dict[str, int]:
    """Replace some tables of the published marts (the invoice tables after invoicing), in order,
    in a new version; the other tables are carried over unchanged. Returns their row counts."""
    current = published / "current"
    if not current.exists():
        return {}
    version = _new_version(published)
    shutil.copyfile(current / "marts.duckdb", version / "marts.duckdb")
    for parquet in (current / "parquet").glob("*.parquet"):
        if parquet.stem not in queries:
            os.link(parquet.resolve(), version / "parquet" / parquet.name)
    con = duckdb.connect(
        str(version / "marts.duckdb"), config={"memory_limit": duckdb_memory_limit()}
    )
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table in queries:
            con.execute(f"DROP TABLE IF EXISTS main.{table}")
        counts = _write_tables(con, version, queries)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _audit_and_make_current(published, version, audit)
    return counts


def _audit_and_make_current(published: Path, version: Path, audit: Audit | None) -> None:
    """Write-audit-publish: a version the audit refuses is removed and never becomes current."""
    if audit is not None:
        try:
            audit(version / "marts.duckdb")
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
    _make_current(published, version)


def _new_version(published: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version = published / "versions" / stamp
    (version / "parquet").mkdir(parents=True)
    return version


def _write_tables(con: duckdb.DuckDBPyConnection, version: Path, sources: dict) -> dict[str, int]:
    counts = {}
    for table, query in sources.items():
        con.execute(f"CREATE TABLE main.{table} AS {query}")
        target = version / "parquet" / f"{table}.parquet"
        con.execute(
            f"COPY main.{table} TO {sql_literal(target)} (FORMAT parquet, COMPRESSION zstd)"
        )
        counts[table] = con.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0]
    return counts


def _make_current(published: Path, version: Path) -> None:
    """One rename makes `version` current; then prune versions nobody is pointed at."""
    _swap_symlink(published / "current", version)
    for name, target in (("marts.duckdb", "current/marts.duckdb"), ("parquet", "current/parquet")):
        link = published / name
        if not link.is_symlink() or os.readlink(link) != target:
            _swap_symlink(link, published / target)
    versions = sorted(p for p in (published / "versions").iterdir() if p.is_dir())
    for stale in versions[:-_KEEP_VERSIONS]:
        shutil.rmtree(stale, ignore_errors=True)


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)
