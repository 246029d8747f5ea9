"""Pull one application table into the landing zone (SPEC 2.7), incrementally and exactly.

PostgreSQL itself renders each row as a JSON object (`row_to_json`: numeric as the number text it
stores, bigint exact, jsonb nested) and streams the rows with `COPY ... TO STDOUT`; Python only
copies the bytes into one new raw file, so memory stays flat however many rows there are.
Timestamps are rendered by PostgreSQL too, as ISO-8601 UTC with `Z` (SPEC 2's first form).

Order of effects: the file is written under a temporary name, synced, renamed to
`raw/<source>/<today UTC>/pull-<name>-<YYYYMMDDTHHMMSSZ>.jsonl`, and only then is the cursor
recorded in `state/pull/<name>.json`. A crash in between leaves the old cursor, so the next pull
reads those rows again and dedup counts them once.

Credentials: the connection string is read from the environment at pull time and never stored,
logged or put in an exception; errors from the driver (whose messages can name the host and
user) are replaced by a fixed description of their kind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.core.settings import HomeLayout
from orchestration.defs.pull.sources import PostgresSource

CONNECT_TIMEOUT_SECONDS = 10
STALE_TEMP_SECONDS = 86400
CURSOR_TYPES = ("timestamp with time zone", "timestamp without time zone")
_NAIVE = "timestamp without time zone"
# COPY's CSV format with a delimiter and a quote byte that never occur in JSON text (control
# characters are always escaped in JSON): each row is then exactly one JSON line, unescaped.
_COPY_OPTIONS = sql.SQL("(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')")
_ISO_UTC = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''


class PullError(Exception):
    """A pull that wrote nothing; the message is one line and holds no credentials."""


@dataclass(frozen=True)
class PullResult:
    name: str
    rows: int
    file: Path | None  # None when no row was past the cursor: no file is written
    cursor: str | None  # the cursor now recorded (unchanged when no row was read)
    previous_cursor: str | None
    rows_without_cursor: int
    seconds: float
    cpu_seconds: float  # this process's CPU time for the pull (the server's is not included)


# --- cursor state ------------------------------------------------------------------------------


def state_path(layout: HomeLayout, name: str) -> Path:
    return layout.home / "state" / "pull" / f"{name}.json"


def read_cursor(layout: HomeLayout, source: PostgresSource) -> str | None:
    """The last recorded cursor, or None (first pull, or the table/column changed since)."""
    path = state_path(layout, source.name)
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if state.get("table") != source.table or state.get("cursor_column") != source.cursor_column:
        return None
    return state["cursor"]


def save_cursor(layout: HomeLayout, source: PostgresSource, cursor: str, file: Path) -> None:
    """Record the cursor atomically (temp file, fsync, rename, fsync of the folder)."""
    path = state_path(layout, source.name)
    state = {
        "name": source.name,
        "table": source.table,
        "cursor_column": source.cursor_column,
        "cursor": cursor,
        "file": file.relative_to(layout.raw).as_posix(),
        "recorded_at": datetime.now(UTC).isoformat(),
    }
    _write_atomically(path, (json.dumps(state, indent=2) + "\n").encode())


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- driver errors without secrets -------------------------------------------------------------

# SQLSTATE classes and codes whose meaning is safe to name (the server's text may carry names).
_SQLSTATE_MEANING = {
    "28P01": "authentication failed (wrong password)",
    "28000": "authentication failed (user not allowed)",
    "3D000": "the database does not exist",
    "42501": "permission denied",
    "57P03": "the server is not accepting connections",
    "53300": "too many connections",
}


def _connect_failure(source: PostgresSource, err: psycopg.Error) -> PullError:
    if isinstance(err, psycopg.ProgrammingError) and not err.sqlstate:
        reason = "the connection string is not valid"
    else:
        reason = _SQLSTATE_MEANING.get(err.sqlstate or "") or _unreachable_reason(err)
    return PullError(f"pull {source.name}: cannot connect (${source.dsn_env}): {reason}")


def _unreachable_reason(err: psycopg.Error) -> str:
    # libpq's text names the host, port and user; keep only the kind of failure.
    text = str(err).lower()
    if "password" in text or "authentication" in text:
        return "authentication failed"
    if "timeout" in text or "timed out" in text:
        return "connection timed out"
    if "does not exist" in text:
        return "the database or role does not exist"
    return "server unreachable"


def _query_failure(source: PostgresSource, err: psycopg.Error) -> PullError:
    state = err.sqlstate or ""
    if state in ("42P01", "3F000"):
        reason = f"table {source.table} not found"
    elif state in _SQLSTATE_MEANING:
        reason = _SQLSTATE_MEANING[state]
    elif isinstance(err, psycopg.OperationalError):
        reason = "the connection was lost"
    else:
        reason = f"query failed ({type(err).__name__}{f', SQLSTATE {state}' if state else ''})"
    return PullError(f"pull {source.name}: {reason}")


# --- the query ---------------------------------------------------------------------------------


def _columns(cur: psycopg.Cursor, source: PostgresSource) -> tuple[str, list[tuple[str, str]]]:
    """The table's quoted name and its (column, type) list, in table order."""
    cur.execute("SELECT %s::regclass::text", (source.table,))
    (relation,) = cur.fetchone()
    cur.execute(
        # the type without its modifier: timestamp(3) is a timestamp, and casts stay exact
        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (source.table,),
    )
    return relation, cur.fetchall()


def _json_field(column: str, type_name: str) -> sql.Composable:
    """The select-list item that renders one column as SPEC 2 wants it in the JSON object."""
    col = sql.SQL("t.{}").format(sql.Identifier(column))
    alias = sql.Identifier(column)
    if type_name in CURSOR_TYPES:
        # a timestamp without zone is UTC already (SPEC 2); one with a zone is converted to UTC
        utc = col if type_name == _NAIVE else sql.SQL("{} AT TIME ZONE 'UTC'").format(col)
        # infinity and BC dates keep PostgreSQL's own text: SPEC 2 quarantines them as bad_timestamp
        return sql.SQL(
            "CASE WHEN isfinite({c}) AND {c} >= '0001-01-01' THEN to_char({u}, {f}) "
            "ELSE {c}::text END AS {a}"
        ).format(c=col, u=utc, f=sql.SQL(_ISO_UTC), a=alias)
    if type_name == "json":
        # json keeps its input text, newlines included; jsonb renders it on one line
        return sql.SQL("{}::jsonb AS {}").format(col, alias)
    return sql.SQL("{} AS {}").format(col, alias)


def _window(source: PostgresSource, cursor_type: str, cursor: str | None):
    """The WHERE clause and its parameters: rows past (last cursor - lookback)."""
    col = sql.SQL("t.{}").format(sql.Identifier(source.cursor_column))
    # NULL and +-infinity have no place in the order the cursor follows: never pulled, counted
    usable = sql.SQL("{c} NOT IN ('infinity', '-infinity')").format(c=col)
    if cursor is None:
        return usable, ()
    bound = sql.SQL("{} AND {} > %s::{} - %s::interval").format(usable, col, sql.SQL(cursor_type))
    return bound, (cursor, f"{int(source.lookback.total_seconds())} seconds")


# --- the pull ----------------------------------------------------------------------------------


def pull_file_name(source: PostgresSource, moment: datetime) -> str:
    return f"pull-{source.name}-{moment.strftime('%Y%m%dT%H%M%SZ')}.jsonl"


def _target(layout: HomeLayout, source: PostgresSource, started: datetime) -> Path:
    """A raw file name not taken yet (two pulls in one second get consecutive seconds)."""
    moment = started.replace(microsecond=0)
    folder = layout.raw / source.source / moment.date().isoformat()
    while (folder / pull_file_name(source, moment)).exists():
        moment += timedelta(seconds=1)
    return folder / pull_file_name(source, moment)


def pull_postgres_source(layout: HomeLayout, source: PostgresSource) -> PullResult:
    """Read the rows past (last cursor - lookback) into one new raw file, then move the cursor."""
    dsn = os.environ.get(source.dsn_env, "")
    if not dsn.strip():
        raise PullError(f"pull {source.name}: environment variable {source.dsn_env} is not set")
    started = datetime.now(UTC)
    clock, cpu = time.monotonic(), time.process_time()
    previous = read_cursor(layout, source)
    target = _target(layout, source, started)
    tmp_dir = layout.home / "state" / "pull" / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(tmp_dir, source)
    tmp = tmp_dir / f"{target.name}.tmp"
    failure: PullError | None = None
    try:
        rows, cursor, no_cursor = _copy_rows(dsn, source, previous, tmp)
    except PullError as err:
        failure = err
    except OSError as err:
        failure = PullError(f"pull {source.name}: cannot write {tmp}: {err.strerror}")
    if failure is not None:
        tmp.unlink(missing_ok=True)
        # raised outside the except blocks: no driver exception rides along as __context__
        raise failure
    if rows == 0:
        tmp.unlink(missing_ok=True)
        return PullResult(
            source.name, 0, None, previous, previous, no_cursor,
            time.monotonic() - clock, time.process_time() - cpu,
        )  # fmt: skip
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as err:
        failure = PullError(f"pull {source.name}: cannot write {target}: {err.strerror}")
    if failure is not None:
        tmp.unlink(missing_ok=True)
        raise failure
    # only now: a crash before this line leaves the old cursor, and the rows are read again
    save_cursor(layout, source, cursor, target)
    return PullResult(
        source.name, rows, target, cursor, previous, no_cursor,
        time.monotonic() - clock, time.process_time() - cpu,
    )  # fmt: skip


def _remove_stale_temp_files(tmp_dir: Path, source: PostgresSource) -> None:
    """Remove what a killed pull of this source left a day or more ago (never ingested anyway)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for leftover in tmp_dir.glob(f"pull-{source.name}-*.jsonl.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _connect(dsn: str, source: PostgresSource) -> psycopg.Connection:
    extra = {"application_name": "meterline-pull"}
    try:
        given = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        given = None
    if given is not None and "connect_timeout" not in given:
        extra["connect_timeout"] = str(CONNECT_TIMEOUT_SECONDS)
    failure = None
    try:
        return psycopg.connect(dsn, **extra)
    except psycopg.Error as err:
        failure = _connect_failure(source, err)
    raise failure


def _copy_rows(
    dsn: str, source: PostgresSource, previous: str | None, tmp: Path
) -> tuple[int, str | None, int]:
    """Stream the rows into `tmp` (synced); the row count, max cursor and rows without cursor."""
    failure = None
    try:
        with _connect(dsn, source) as conn:
            return _copy_in_snapshot(conn, source, previous, tmp)
    except psycopg.Error as err:  # also from closing the connection
        failure = _query_failure(source, err)
    raise failure


def _copy_in_snapshot(
    conn: psycopg.Connection, source: PostgresSource, previous: str | None, tmp: Path
) -> tuple[int, str | None, int]:
    # One read-only snapshot: the rows copied and the max cursor recorded are the same rows.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SET client_encoding TO 'UTF8'")
        cur.execute("SET extra_float_digits TO 1")  # float8: shortest text that reads back exact
        # Rendering rows as JSON is the server's work and the pull's bottleneck: let the planner
        # spread it over parallel workers (as many as the server's own limits allow).
        cur.execute("SET LOCAL parallel_setup_cost TO 0")
        cur.execute("SET LOCAL parallel_tuple_cost TO 0")
        relation, columns = _columns(cur, source)
        types = dict(columns)
        cursor_type = types.get(source.cursor_column)
        if cursor_type is None:
            raise PullError(
                f"pull {source.name}: table {source.table} has no column {source.cursor_column}"
            )
        if cursor_type not in CURSOR_TYPES:
            raise PullError(
                f"pull {source.name}: cursor column {source.cursor_column} is {cursor_type}; "
                "expected a timestamp (with or without time zone)"
            )
        where, params = _window(source, cursor_type, previous)
        col = sql.SQL("t.{}").format(sql.Identifier(source.cursor_column))
        cur.execute(
            sql.SQL(
                "SELECT max({c})::text, (SELECT count(*) FROM {r} AS t WHERE {c} IS NULL"
                " OR {c} IN ('infinity', '-infinity')) FROM {r} AS t WHERE {w}"
            ).format(c=col, r=sql.SQL(relation), w=where),
            params,
        )
        cursor, no_cursor = cur.fetchone()
        fields = sql.SQL(", ").join(_json_field(name, kind) for name, kind in columns)
        query = sql.SQL(
            # No ORDER BY: an ordered plan renders every row in the one leader process, an
            # unordered one on parallel workers. Line order only matters for a key repeated
            # within the table, and then the first line wins (SPEC 2.5) as in any delivery.
            "COPY (SELECT row_to_json(r) FROM (SELECT {f} FROM {r} AS t WHERE {w}) r)"
            " TO STDOUT WITH {o}"
        ).format(f=fields, r=sql.SQL(relation), w=where, o=_COPY_OPTIONS)
        rows = 0
        with tmp.open("wb", buffering=2**20) as out:
            with cur.copy(query, params) as copy:
                for row in copy:
                    if row[0] != 0x7B:  # "{": CSV quoting would mean a row is not one JSON line
                        raise PullError(f"pull {source.name}: a row did not render as JSON")
                    out.write(row)
                    rows += 1
            out.flush()
            os.fsync(out.fileno())
    conn.commit()
    return rows, cursor, no_cursor
