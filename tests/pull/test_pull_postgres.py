"""`meterline pull` against a real PostgreSQL server: exact rows, cursor, failures, secrecy.

Every pull here goes through the CLI and therefore through a Dagster run, as a user's would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from orchestration.cli import main

SOURCES = """\
postgres:
  - name: app_events
    source: events
    dsn_env: APP_DATABASE_URL
    table: {table}
    cursor_column: created_at
    lookback: {lookback}
"""

EVENTS_TABLE = """
CREATE TABLE usage_events (
    id text PRIMARY KEY, business_id text, event_type text, quantity numeric(38, 12),
    unit_price_cents bigint, total_cost_cents numeric, metadata jsonb, note json,
    created_at timestamptz(6), local_time timestamp(3), ratio double precision
)"""


def pull(home: Path, *args: str):
    return CliRunner().invoke(main, ["pull", "--home", str(home), *args])


def configure(home: Path, table: str = "public.usage_events", lookback: str = "10m") -> None:
    (home / "sources.yml").write_text(SOURCES.format(table=table, lookback=lookback))


def execute(pg_server, db: str, *statements: str) -> None:
    with pg_server.connect(db) as conn:
        for statement in statements:
            conn.execute(statement)


def pulled_files(home: Path) -> list[Path]:
    return sorted((home / "raw").rglob("*.jsonl")) if (home / "raw").exists() else []


def cursor_state(home: Path) -> dict | None:
    path = home / "state" / "pull" / "app_events.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_rows_are_written_with_exact_numbers_nested_json_and_utc_times(
    pg_server, app_db, pull_home
):
    execute(
        pg_server,
        app_db,
        EVENTS_TABLE,
        # a numeric keeps its stored scale; bigint 2^63-1 and 2^53+1 are exact only as text;
        # the json column holds a newline between tokens; text holds quotes, a backslash,
        # a newline, a control character and non-ASCII.
        """INSERT INTO usage_events VALUES
        ('e1', 'acme', 'API_Call', 0.885, 9223372036854775807, 12345678901234567890.123456789,
         '{"model": "gpt-4o", "tokens": 9007199254740993, "cost": 0.1000, "tags": ["a", {"b": null}]}',
         '{"a":\n 1}', '2026-10-03 12:00:00.123456+02', '2026-10-03 23:59:59.5', 0.1),
        (E'e2 "quoted" \\\\ back\nslash \\x01 \u00e9', 'globex', 'voice_minute', 1, 0, 0,
         '{}', 'null', '2026-10-04 00:00:00+00', NULL, 'NaN'),
        -- no usable cursor value: not pulled, counted and reported
        ('e3', 'acme', 'api_call', 2, 1, 1, NULL, NULL, 'infinity', NULL, 0),
        ('e4', 'acme', 'api_call', 2, 1, 1, NULL, NULL, NULL, NULL, 0)""",
    )
    configure(pull_home)
    result = pull(pull_home)
    assert result.exit_code == 0, result.output
    [file] = pulled_files(pull_home)
    assert file.name.startswith("pull-app_events-") and file.parent.parent.name == "events"
    lines = file.read_bytes().splitlines()
    assert len(lines) == 2
    assert "warning: 2 rows have a NULL or infinite cursor value" in result.output
    first, second = (json.loads(line) for line in lines)
    # The number text as PostgreSQL stores it, untouched by any float.
    assert b'"quantity":0.885000000000' in lines[0]
    assert b'"unit_price_cents":9223372036854775807' in lines[0]
    assert b'"total_cost_cents":12345678901234567890.123456789' in lines[0]
    assert b'"tokens": 9007199254740993' in lines[0]
    assert first["metadata"] == {
        "model": "gpt-4o", "tokens": 9007199254740993, "cost": 0.1, "tags": ["a", {"b": None}]
    }  # fmt: skip
    assert first["note"] == {"a": 1}
    # timestamptz converted to UTC with Z; a timestamp without zone is UTC already
    assert first["created_at"] == "2026-10-03T10:00:00.123456Z"
    assert first["local_time"] == "2026-10-03T23:59:59.500000Z"
    assert first["ratio"] == 0.1
    assert second["id"] == 'e2 "quoted" \\ back\nslash \x01 \u00e9'
    assert second["created_at"] == "2026-10-04T00:00:00.000000Z"
    assert second["local_time"] is None and second["note"] is None
    assert second["ratio"] == "NaN"  # not a JSON number: SPEC 2 makes it bad_quantity if used
    assert cursor_state(pull_home)["cursor"] == "2026-10-04 00:00:00+00"


def _insert_events(pg_server, db, *rows: tuple[str, str]) -> None:
    """Rows (id, created_at) of tenant acme, meter api_call, quantity 1."""
    values = ", ".join(
        f"('{i}', 'acme', 'api_call', 1, 0, 0, NULL, NULL, '{t}', NULL, 0)" for i, t in rows
    )
    execute(pg_server, db, f"INSERT INTO usage_events VALUES {values}")


def ids_in(file: Path) -> list[str]:
    return [json.loads(line)["id"] for line in file.read_bytes().splitlines()]


def test_each_pull_reads_past_the_cursor_minus_the_lookback(pg_server, app_db, pull_home):
    execute(pg_server, app_db, EVENTS_TABLE)
    _insert_events(
        pg_server, app_db, ("a", "2026-10-03 12:00:00+00"), ("b", "2026-10-03 12:30:00+00")
    )
    configure(pull_home, lookback="10m")
    assert pull(pull_home).exit_code == 0
    # cursor 12:30; a late commit at 12:25 is inside the lookback, one at 12:15 is not (SPEC 2.7)
    _insert_events(
        pg_server, app_db,
        ("late", "2026-10-03 12:25:00+00"), ("too_late", "2026-10-03 12:15:00+00"),
        ("c", "2026-10-03 12:45:00+00"),
    )  # fmt: skip
    assert pull(pull_home).exit_code == 0
    first, second = pulled_files(pull_home)
    assert ids_in(first) == ["a", "b"]
    assert sorted(ids_in(second)) == ["b", "c", "late"]  # b is read again
    assert cursor_state(pull_home)["cursor"] == "2026-10-03 12:45:00+00"


def test_no_new_row_writes_no_file_and_keeps_the_cursor(pg_server, app_db, pull_home):
    execute(pg_server, app_db, EVENTS_TABLE)
    configure(pull_home, lookback="0s")
    result = pull(pull_home)
    assert result.exit_code == 0, result.output
    assert "0 rows -> none" in result.output
    assert pulled_files(pull_home) == [] and cursor_state(pull_home) is None
    _insert_events(pg_server, app_db, ("a", "2026-10-03 12:00:00+00"))
    assert pull(pull_home).exit_code == 0
    state = cursor_state(pull_home)
    assert pull(pull_home).exit_code == 0  # lookback 0: nothing past the cursor
    assert len(pulled_files(pull_home)) == 1 and cursor_state(pull_home) == state


def _grep(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failures_exit_1_with_one_line_write_nothing_and_never_show_credentials(
    pg_server, app_db, pull_home, monkeypatch
):
    execute(pg_server, app_db, EVENTS_TABLE, "CREATE TABLE counters (id int, created_at int)")
    _insert_events(pg_server, app_db, ("a", "2026-10-03 12:00:00+00"))
    configure(pull_home)
    assert pull(pull_home).exit_code == 0
    before = {p: p.read_bytes() for p in pulled_files(pull_home)}
    state = cursor_state(pull_home)
    good_dsn = os.environ["APP_DATABASE_URL"]
    wrong_password = "wrong-" + pg_server.password[::-1]
    cases = [
        (pg_server.dsn(app_db, password=wrong_password), None, "authentication failed"),
        (
            good_dsn.replace(f":{pg_server.port}/", f":{_closed_port()}/"),
            None,
            "server unreachable",
        ),
        (pg_server.dsn("no_such_db"), None, "the database or role does not exist"),
        ("host=127.0.0.1 port=notaport password=" + wrong_password, None, "cannot connect"),
        (good_dsn, "public.nope", "table public.nope not found"),
        (good_dsn, "nope_schema.usage_events", "table nope_schema.usage_events not found"),
        (good_dsn, "counters", "cursor column created_at is integer; expected a timestamp"),
        ("", None, "environment variable APP_DATABASE_URL is not set"),
    ]
    for dsn, table, expected in cases:
        monkeypatch.setenv("APP_DATABASE_URL", dsn)
        configure(pull_home, table=table or "public.usage_events")
        result = pull(pull_home)
        assert result.exit_code == 1, (expected, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (expected, result.output)
        assert lines[0].startswith("pull app_events: ")
        assert pg_server.password not in result.output and wrong_password not in result.output
        assert {p: p.read_bytes() for p in pulled_files(pull_home)} == before
        assert cursor_state(pull_home) == state
        assert not list((pull_home / "state" / "pull" / "tmp").iterdir())
    # Neither password is anywhere in the home: raw files, state, logs, Dagster's run storage.
    assert (pull_home / "dagster").is_dir()
    assert _grep(pull_home, pg_server.password) == []
    assert _grep(pull_home, wrong_password) == []
    assert _grep(pull_home, good_dsn) == []
