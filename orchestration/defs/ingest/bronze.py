"""Append-only bronze: one Parquet file per raw file and table, never rewritten once committed.

Layout under `$METERLINE_HOME/bronze/`:
- `<source>/<delivery-date>/<file-id>.parquet`: the usable items of one raw file (duplicates
  included: deduplication happens in dbt, over every delivery, so the first delivered copy wins
  whatever order the deliveries were ingested in);
- `quarantine/<delivery-date>/<file-id>.parquet`: the items that cannot be used, with their reason;
- `files/<delivery-date>/<file-id>.parquet`: one row per ingested raw file (lines and items read,
  SHA-256). It is written last and is the commit marker: a raw file whose marker exists is never
  read again, so re-runs and deleted raw files change nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.core.sql_text import sql_literal
from orchestration.defs.ingest.items import CONTENT_KEYED_SOURCES, ITEM_QUERIES
from orchestration.defs.ingest.raw_files import (
    SOURCES,
    RawFile,
    file_sha256,
    iter_content,
    iter_line_tables,
    list_delivery_dates,
    list_raw_files,
)
from orchestration.defs.ingest.sql_macros import connect_for_ingest

BRONZE_TABLES = (*SOURCES, "quarantine", "files")


class RawFileChangedError(RuntimeError):
    """A raw file was changed after it was ingested: the landing zone must be immutable."""


@dataclass
class FileAudit:
    """What ingestion read from one raw file (dedup counts come later, in dbt)."""

    source: str
    file: str
    delivery_date: date
    lines_read: int
    items_read: int
    quarantined: int
    skipped: bool  # already ingested earlier


def canonical_json(text: str) -> str:
    """Canonical JSON of an item: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_key(text: str) -> str:
    """The dedup key of a line without a key field: SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(text).encode()).hexdigest()


def _file_id(raw_file: RawFile) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in raw_file.path.name)
    return f"{stem}-{hashlib.sha256(raw_file.name.encode()).hexdigest()[:12]}"


def _bronze_path(bronze_root: Path, table: str, raw_file: RawFile) -> Path:
    return (
        bronze_root / table / raw_file.delivery_date.isoformat() / f"{_file_id(raw_file)}.parquet"
    )


def _write_atomic(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    con.execute(f"COPY ({query}) TO {sql_literal(tmp)} (FORMAT parquet, COMPRESSION zstd)")
    os.replace(tmp, path)


def _committed_sha(con: duckdb.DuckDBPyConnection, marker: Path) -> str | None:
    if not marker.exists():
        return None
    return con.execute(f"SELECT file_sha256 FROM read_parquet({sql_literal(marker)})").fetchall()[
        0
    ][0]


def ingest_raw_file(
    con: duckdb.DuckDBPyConnection, bronze_root: Path, raw_file: RawFile
) -> FileAudit:
    """Type, key and quarantine every item of one raw file and commit it to bronze (once).

    The file is read in chunks of whole lines (`iter_line_tables`) that DuckDB appends to the
    temp table `items`, so Python holds one chunk at a time whatever the file's size.
    """
    marker = _bronze_path(bronze_root, "files", raw_file)
    committed = _committed_sha(con, marker)
    if committed is not None:
        sha = file_sha256(raw_file.path)
        if committed != sha:
            raise RawFileChangedError(
                f"raw file {raw_file.name} changed after it was ingested (SHA-256 {committed[:12]}… "
                f"now {sha[:12]}…); deliver new content under a new file name"
            )
        row = con.execute(
            f"SELECT lines_read, items_read, quarantined FROM read_parquet({sql_literal(marker)})"
        ).fetchall()[0]
        return FileAudit(raw_file.source, raw_file.name, raw_file.delivery_date, *row, skipped=True)

    digest = hashlib.sha256()

    def hashed(pieces):
        for piece in pieces:
            digest.update(piece)
            yield piece

    lines_read = 0
    for number, (lines, count) in enumerate(iter_line_tables(hashed(iter_content(raw_file.path)))):
        type_items(con, raw_file.source, lines, raw_file.delivery_date, append=number > 0)
        lines_read += count
    key_by_content(con, raw_file.source)
    sha = digest.hexdigest()

    params = (
        f"{sql_literal(raw_file.source)} AS source, {sql_literal(raw_file.name)} AS source_file, "
        f"DATE '{raw_file.delivery_date.isoformat()}' AS delivery_date"
    )
    _write_atomic(
        con,
        f"SELECT {params}, * EXCLUDE (reason) FROM items WHERE reason IS NULL "
        "ORDER BY line_number, item_position",
        _bronze_path(bronze_root, raw_file.source, raw_file),
    )
    _write_atomic(
        con,
        f"SELECT {params}, line_number, item_position, reason, item_json AS raw FROM items "
        "WHERE reason IS NOT NULL ORDER BY line_number, item_position",
        _bronze_path(bronze_root, "quarantine", raw_file),
    )
    items_read, quarantined = con.execute("SELECT count(*), count(reason) FROM items").fetchall()[0]
    ingested_at = datetime.now(UTC).isoformat()
    _write_atomic(
        con,
        f"SELECT {params}, '{sha}' AS file_sha256, {lines_read}::BIGINT AS lines_read, "
        f"{items_read}::BIGINT AS items_read, {quarantined}::BIGINT AS quarantined, "
        f"TIMESTAMPTZ '{ingested_at}' AS ingested_at",
        marker,
    )
    return FileAudit(
        raw_file.source,
        raw_file.name,
        raw_file.delivery_date,
        lines_read,
        items_read,
        quarantined,
        skipped=False,
    )


def type_items(
    con: duckdb.DuckDBPyConnection,
    source: str,
    lines: pa.Table,
    delivery_date: date,
    append: bool = False,
) -> None:
    """Fill the temp table `items` with the typed items of `lines(line_number, raw, utf8_ok)`
    (`append`: add them to the items already there). Keyless events / usage_logs items get their
    content key from `key_by_content` once every chunk is in."""
    con.register("lines", lines)
    into = "INSERT INTO items " if append else "CREATE OR REPLACE TEMP TABLE items AS "
    con.execute(into + ITEM_QUERIES[source], {"delivery_date": delivery_date})
    con.unregister("lines")


def key_by_content(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Give the usable `items` of an events / usage_logs file without a key field the SHA-256 of
    their canonical JSON as key."""
    if source not in CONTENT_KEYED_SOURCES:
        return
    keyless = con.execute(
        "SELECT line_number, item_json FROM items WHERE item_key IS NULL AND reason IS NULL"
    ).fetchall()
    if not keyless:
        return
    keys = pa.table(
        {
            "line_number": pa.array([n for n, _ in keyless], pa.int64()),
            "content_key": pa.array([content_key(text) for _, text in keyless], pa.string()),
        }
    )
    con.register("content_keys", keys)
    con.execute(
        "UPDATE items SET item_key = k.content_key FROM content_keys k "
        "WHERE items.line_number = k.line_number AND items.item_key IS NULL"
    )
    con.unregister("content_keys")


def _schema_file(bronze_root: Path, table: str) -> Path:
    return bronze_root / table / "_schema" / "empty.parquet"


def _write_schema_files(con: duckdb.DuckDBPyConnection, bronze_root: Path) -> None:
    """Write the empty Parquet file of each bronze table that has none."""
    empty = Path("_schema") / "empty.jsonl"
    for source in ITEM_QUERIES:
        target = _schema_file(bronze_root, source)
        if target.exists():
            continue
        no_lines = pa.table(
            {
                "line_number": pa.array([], pa.int64()),
                "raw": pa.array([], pa.string()),
                "utf8_ok": pa.array([], pa.bool_()),
            }
        )
        type_items(con, source, no_lines, date(2000, 1, 1))
        _write_atomic(
            con,
            f"SELECT {sql_literal(source)} AS source, {sql_literal(empty)} AS source_file, DATE '2000-01-01' AS "
            "delivery_date, * EXCLUDE (reason) FROM items",
            target,
        )
    schemas = {
        "quarantine": "NULL::VARCHAR AS source, NULL::VARCHAR AS source_file, NULL::DATE AS "
        "delivery_date, NULL::BIGINT AS line_number, NULL::BIGINT AS item_position, "
        "NULL::VARCHAR AS reason, NULL::VARCHAR AS raw",
        "files": "NULL::VARCHAR AS source, NULL::VARCHAR AS source_file, NULL::DATE AS "
        "delivery_date, NULL::VARCHAR AS file_sha256, NULL::BIGINT AS lines_read, "
        "NULL::BIGINT AS items_read, NULL::BIGINT AS quarantined, "
        "NULL::TIMESTAMPTZ AS ingested_at",
    }
    for table, columns in schemas.items():
        target = _schema_file(bronze_root, table)
        if not target.exists():
            _write_atomic(con, f"SELECT {columns} LIMIT 0", target)


def prepare_bronze(bronze_root: Path) -> None:
    """One empty Parquet file per bronze table, so dbt finds every table's schema even before
    anything was delivered. A no-op, without a DuckDB connection, once they exist."""
    if all(_schema_file(bronze_root, table).exists() for table in BRONZE_TABLES):
        return
    con = connect_for_ingest()
    try:
        _write_schema_files(con, bronze_root)
    finally:
        con.close()


def pending_raw_files(raw_root: Path, bronze_root: Path) -> dict[date, list[str]]:
    """Raw files not yet committed to bronze, by delivery date."""
    pending: dict[date, list[str]] = {}
    for day in list_delivery_dates(raw_root):
        for raw_file in list_raw_files(raw_root, day):
            if not _bronze_path(bronze_root, "files", raw_file).exists():
                pending.setdefault(day, []).append(raw_file.name)
    return pending


def ingest_delivery(raw_root: Path, bronze_root: Path, delivery_date: date) -> list[FileAudit]:
    """Ingest every raw file of one delivery date that is not yet in bronze."""
    return ingest_deliveries(raw_root, bronze_root, [delivery_date])


def ingest_deliveries(
    raw_root: Path,
    bronze_root: Path,
    delivery_dates: Iterable[date],
    workers: int | None = None,
) -> list[FileAudit]:
    """Ingest every raw file of `delivery_dates` not yet in bronze; audits in delivery order.

    Files are independent (each commits its own Parquet files), so `workers` of them (default:
    one per core) are ingested at once, each on its own single-threaded DuckDB connection with its
    share of the memory limit. One
    connection per file would leave a core idle: ingesting a file is mostly JSON parsing that
    DuckDB cannot split across threads. The largest files start first, so the workers finish
    together. The first error (e.g. a changed raw file) is raised once the running files are
    committed.
    """
    raw_files = [f for day in sorted(delivery_dates) for f in list_raw_files(raw_root, day)]
    prepare_bronze(bronze_root)
    if not raw_files:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(raw_files)))
    local = threading.local()
    connections: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def ingest(raw_file: RawFile) -> FileAudit:
        if not hasattr(local, "con"):
            local.con = connect_for_ingest(threads=1, share=workers)
            with lock:
                connections.append(local.con)
        return ingest_raw_file(local.con, bronze_root, raw_file)

    largest_first = sorted(raw_files, key=lambda f: f.path.stat().st_size, reverse=True)
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
            futures = {f.name: pool.submit(ingest, f) for f in largest_first}
        return [futures[f.name].result() for f in raw_files]
    finally:
        for connection in connections:
            connection.close()


__all__ = [
    "BRONZE_TABLES",
    "FileAudit",
    "RawFileChangedError",
    "canonical_json",
    "content_key",
    "ingest_deliveries",
    "ingest_delivery",
    "ingest_raw_file",
    "key_by_content",
    "pending_raw_files",
    "prepare_bronze",
    "type_items",
]
