"""Write-audit-publish, last step: the checked marts, published for analysts in one atomic swap.

Each publish writes a new version folder `published/versions/<stamp>/`, then swaps the symlink
`published/current` to it with one rename. `published/marts.duckdb` and `published/parquet` are
fixed links through `current`, so the DuckDB file and the Parquet files always change together.

A version holds, per table, a Parquet directory `parquet/<table>.parquet/` with one file per month
of the table's partition column (`YYYY-MM.parquet`; `none.parquet` for rows whose month is NULL;
`all.parquet` for a table without a time column; `empty.parquet`, zero rows, when a partitioned
table has no rows, so its columns and types still exist), and `marts.duckdb`, whose tables are
views over that version's own files (absolute paths). Publishing rewrites only the months that
changed; every other file is a hard link to the same file of the current version, so a publish
costs what changed, not the history behind it.

Views read their files when queried, not when the database is opened: an analyst holding an old
version open keeps reading it for as long as its folder exists. Pruning therefore keeps the last
`KEEP_VERSIONS` versions and every version younger than `PRUNE_GRACE`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.core.settings import duckdb_memory_limit
from orchestration.core.sql_text import sql_literal
from orchestration.core.time_columns import TIME_COLUMNS

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
# The column whose month names a table's Parquet file; a table not named here is one `all.parquet`.
PARTITION_COLUMNS = {
    table: TIME_COLUMNS[table]
    for table in (
        "fct_usage_records",
        "fct_trace_sessions",
        "tenant_daily_usage",
        "agent_daily_stats",
        "team_daily_stats",
        "platform_daily_stats",
        "platform_daily_cost",
        "tenant_monthly_usage",
        "feature_monthly_usage",
        "tenant_monthly_margin",
        "quarantine",
        "fct_invoice_lines",
        "fct_invoice_records",
    )
}
# A table computed from another published table changes in the months its source changed:
# tenant_monthly_margin reads the published fct_usage_records (orchestration.billing.margin).
DERIVED_FROM = {"tenant_monthly_margin": ("fct_usage_records",)}
# Older DuckDB readers (1.4+, e.g. an analyst's CLI or DBeaver) can open the published file.
STORAGE_COMPATIBILITY = "v1.4.0"
KEEP_VERSIONS = 3
# An old version's views read its files lazily: an analyst's session opened on it before a swap
# keeps working for at least this long after it stopped being current.
PRUNE_GRACE = timedelta(hours=1)

_STAMP = "%Y%m%dT%H%M%S%fZ"
_UNPARTITIONED = "all"
_NULL_MONTH = "none"
_EMPTY = "empty"
_PART = "__meterline_month"

# Called with a new version's marts.duckdb before it becomes current; raises to refuse it.
Audit = Callable[[Path], None]
# Per table, the months (first day of month) whose rows changed since the current version.
ChangedMonths = Mapping[str, Collection[date]]


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
    changed_months: ChangedMonths | None = None,
) -> dict[str, int]:
    """Publish `tables` from the build warehouse, and the invoice tables (name -> query, run in
    order after them, may read `main.<table>` of the new version), as a new version; once `audit`
    accepts it, make it current. Returns the row count of each table.

    `changed_months=None` writes every month of every table (first publish, full refresh).
    Otherwise only the months `changed_months[table]` are rewritten (with the table's NULL-month
    rows; an unpartitioned table is rewritten iff it is a key), a month left without rows
    disappears, and every other file is linked from the current version."""
    sources = {table: f"SELECT * FROM build.main.{table}" for table in tables}
    sources.update(invoice_tables)
    if changed_months is not None:
        changed_months = _with_derived(changed_months)
    return _publish(published, sources, changed_months, audit, warehouse)


def republish_tables(
    published: Path,
    queries: Mapping[str, str],
    audit: Audit | None = None,
    changed_months: ChangedMonths | None = None,
) -> dict[str, int]:
    """Replace some tables of the published marts (the invoice tables after invoicing), in order,
    in a new version; the other tables are carried over unchanged (linked). `changed_months` as
    for `publish_marts` (invoicing passes the invoiced month); None rewrites `queries` entirely.
    Returns the row counts of the replaced tables."""
    current = published / "current"
    if not current.exists():
        return {}
    sources: dict[str, str | None] = {
        table: None for table in _version_tables(current.resolve()) if table not in queries
    }
    sources.update(queries)
    counts = _publish(published, sources, changed_months, audit, None)
    return {table: counts[table] for table in queries}


def _publish(
    published: Path,
    sources: Mapping[str, str | None],
    changed_months: ChangedMonths | None,
    audit: Audit | None,
    warehouse: Path | None,
) -> dict[str, int]:
    """Write a new version of `sources` (table -> query, None: carried over from the current
    version), audit it and make it current."""
    current = (published / "current").resolve() if (published / "current").exists() else None
    version = _new_version(published)
    con = duckdb.connect(
        str(version / "marts.duckdb"),
        config={
            "storage_compatibility_version": STORAGE_COMPATIBILITY,
            "memory_limit": duckdb_memory_limit(),
        },
    )
    try:
        con.execute("SET TimeZone = 'UTC'")
        attached = {"build": warehouse, "cur": current / "marts.duckdb" if current else None}
        attached = {name: path for name, path in attached.items() if path is not None}
        for name, path in attached.items():
            con.execute(f"ATTACH {sql_literal(path)} AS {name} (READ_ONLY)")
        counts = {}
        for table, query in sources.items():
            writer = _TableWriter(con, version, current, table)
            if query is None:
                writer.carry_over()
            elif changed_months is None or not writer.can_link(query):
                writer.write(query, None)
            else:
                writer.write(query, _partitions(table, changed_months))
            counts[table] = con.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0]
        for name in attached:
            con.execute(f"DETACH {name}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    shutil.rmtree(version / ".partitions", ignore_errors=True)
    _audit_and_make_current(published, version, audit)
    return counts


class _TableWriter:
    """One table of a new version: its Parquet directory and its view in the new marts.duckdb."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, version: Path, current: Path | None, table: str
    ):
        self.con = con
        self.table = table
        self.column = PARTITION_COLUMNS.get(table)
        self.target = version / "parquet" / f"{table}.parquet"
        self.scratch = version / ".partitions" / table
        self.previous = current / "parquet" / f"{table}.parquet" if current else None
        self.target.mkdir(parents=True)

    def can_link(self, query: str) -> bool:
        """Whether the current version holds this table as month files of the same columns."""
        if self.previous is None or not self.previous.is_dir():
            return False
        return _columns(self.con, f'SELECT * FROM cur.main."{self.table}"') == _columns(
            self.con, query
        )

    def carry_over(self) -> None:
        """Link every file of the current version; a version from before month files (one
        `<table>.parquet` file, tables in marts.duckdb) is rewritten from its marts.duckdb."""
        source = f'SELECT * FROM cur.main."{self.table}"'
        if self.previous is None or not self.previous.is_dir():
            self.write(source, None)
            return
        for path in sorted(self.previous.glob("*.parquet")):
            os.link(path, self.target / path.name)
        self._create_view(_columns(self.con, source))

    def write(self, query: str, partitions: set[str] | None) -> None:
        """Rewrite `partitions` (None: every one) from `query` and link the others."""
        columns = _columns(self.con, query)
        if self.column is None:
            if partitions is None or _UNPARTITIONED in partitions:
                self._copy(query, self.target / f"{_UNPARTITIONED}.parquet")
        else:
            self._write_months(query, dict(columns)[self.column], partitions)
        if partitions is not None and self.previous is not None:
            for path in sorted(self.previous.glob("*.parquet")):
                if path.stem not in partitions and path.stem != _EMPTY:
                    os.link(path, self.target / path.name)
        if not any(self.target.glob("*.parquet")):
            self._copy(f"SELECT * FROM ({query}) LIMIT 0", self.target / f"{_EMPTY}.parquet")
        self._create_view(columns)

    def _write_months(self, query: str, column_type: str, partitions: set[str] | None) -> None:
        """One partitioned COPY writes every selected month; its hive folders become flat files."""
        if partitions is not None and not partitions:
            return
        column = f'"{self.column}"'
        if column_type == "VARCHAR":  # already a 'YYYY-MM' month (the invoice tables)
            month = f"coalesce({column}, '{_NULL_MONTH}')"
        else:
            month = f"coalesce(strftime({column}, '%Y-%m'), '{_NULL_MONTH}')"
        where = (
            "" if partitions is None else f"WHERE {_month_filter(column, column_type, partitions)}"
        )
        self.scratch.parent.mkdir(exist_ok=True)
        self.con.execute(
            f"COPY (SELECT *, {month} AS {_PART} FROM ({query}) {where}) "
            f"TO {sql_literal(self.scratch)} "
            f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({_PART}))"
        )
        if not self.scratch.exists():  # no row in any selected month
            return
        for folder in sorted(self.scratch.iterdir()):
            name = folder.name.split("=", 1)[1]
            if name != _NULL_MONTH and not _is_month(name):
                raise ValueError(f"{self.table}.{self.column}: {name!r} is not a month (YYYY-MM)")
            files = sorted(folder.glob("*.parquet"))
            target = self.target / f"{name}.parquet"
            if len(files) == 1:
                files[0].rename(target)
            else:  # DuckDB 2.0 writes one file per month; should one split it, merge them
                listed = "[" + ", ".join(sql_literal(f) for f in files) + "]"
                self._copy(
                    f"SELECT * FROM read_parquet({listed}, hive_partitioning = false)", target
                )

    def _copy(self, query: str, target: Path) -> None:
        self.con.execute(
            f"COPY ({query}) TO {sql_literal(target)} (FORMAT parquet, COMPRESSION zstd)"
        )

    def _create_view(self, columns: list[tuple[str, str]]) -> None:
        """The table as a view over its files, with exactly the columns and types of its source
        (a type Parquet does not keep is cast back)."""
        # a `key=value` folder anywhere in the home's path must not become a column
        files = f"read_parquet({sql_literal(self.target / '*.parquet')}, hive_partitioning = false)"
        stored = dict(_columns(self.con, f"SELECT * FROM {files}"))
        select = ", ".join(
            f'"{name}"' if stored.get(name) == kind else f'CAST("{name}" AS {kind}) AS "{name}"'
            for name, kind in columns
        )
        self.con.execute(f'CREATE VIEW main."{self.table}" AS SELECT {select} FROM {files}')


def _columns(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    """(name, type) of each column `query` returns, without running it."""
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {query}").fetchall()]


def _month_filter(column: str, column_type: str, partitions: Collection[str]) -> str:
    """SQL selecting the rows of `partitions` (months and `none`) as ranges, so DuckDB can skip
    row groups by their min/max."""
    terms = []
    for name in sorted(partitions):
        if name == _NULL_MONTH:
            terms.append(f"{column} IS NULL")
        elif column_type == "VARCHAR":
            terms.append(f"{column} = {sql_literal(name)}")
        else:
            start = date.fromisoformat(f"{name}-01")
            end = (start + timedelta(days=31)).replace(day=1)
            terms.append(
                f"({column} >= CAST({sql_literal(start)} AS {column_type}) "
                f"AND {column} < CAST({sql_literal(end)} AS {column_type}))"
            )
    return "(" + " OR ".join(terms) + ")" if terms else "false"


def _partitions(table: str, changed_months: ChangedMonths) -> set[str]:
    """The files of `table` to rewrite: its changed months and its NULL month, or its one file."""
    if table not in changed_months:
        return set()
    if table not in PARTITION_COLUMNS:
        return {_UNPARTITIONED}
    return {f"{m:%Y-%m}" for m in changed_months[table]} | {_NULL_MONTH}


def _with_derived(changed_months: ChangedMonths) -> dict[str, set[date]]:
    """`changed_months` plus, for each table derived from others, the months they changed."""
    changed = {table: set(months) for table, months in changed_months.items()}
    for table, sources in DERIVED_FROM.items():
        for source in sources:
            if source in changed:
                changed.setdefault(table, set()).update(changed[source])
    return changed


def _is_month(name: str) -> bool:
    try:
        return len(name) == 7 and date.fromisoformat(f"{name}-01") is not None
    except ValueError:
        return False


def _version_tables(version: Path) -> list[str]:
    """The tables a published version holds, from its marts.duckdb."""
    con = duckdb.connect(str(version / "marts.duckdb"), read_only=True)
    try:
        return [row[0] for row in con.execute("SHOW TABLES").fetchall()]
    finally:
        con.close()


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
    stamp = datetime.now(UTC).strftime(_STAMP)
    version = published / "versions" / stamp
    (version / "parquet").mkdir(parents=True)
    return version


def _make_current(published: Path, version: Path) -> None:
    """One rename makes `version` current; then prune old versions."""
    _swap_symlink(published / "current", version)
    for name, target in (("marts.duckdb", "current/marts.duckdb"), ("parquet", "current/parquet")):
        link = published / name
        if not link.is_symlink() or os.readlink(link) != target:
            _swap_symlink(link, published / target)
    _prune(published / "versions", version)


def _prune(versions_dir: Path, current: Path) -> None:
    """Remove versions that are neither among the last `KEEP_VERSIONS` nor younger than
    `PRUNE_GRACE` (nor current). Their files linked into newer versions stay there."""
    versions = sorted(p for p in versions_dir.iterdir() if p.is_dir())
    now = datetime.now(UTC)
    for stale in versions[:-KEEP_VERSIONS]:
        if stale.resolve() != current.resolve() and now - _created_at(stale) > PRUNE_GRACE:
            shutil.rmtree(stale, ignore_errors=True)


def _created_at(version: Path) -> datetime:
    try:
        return datetime.strptime(version.name, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(version.stat().st_mtime, UTC)


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)
