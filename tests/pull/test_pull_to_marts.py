"""Pulled rows reach the marts exactly (issue 15): sums per tenant/meter/day computed by PostgreSQL
itself equal the published `tenant_daily_usage`, across four pulls with overlapping lookbacks,
rows committed late behind the cursor, and one pull SIGKILLed after its raw file was renamed into
place but before its cursor was recorded (the next pull reads those rows again; dedup counts
them once).

Two sources: `usage_events` (SPEC 2.1, cursor timestamptz) and `request_logs` (SPEC 2.2, camelCase
columns, cursor timestamp without time zone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
from click.testing import CliRunner

from orchestration.cli import main

SOURCES = """\
postgres:
  - name: app_events
    source: events
    dsn_env: APP_DATABASE_URL
    table: public.usage_events
    cursor_column: created_at
    lookback: 10m
  - name: app_requests
    source: usage_logs
    dsn_env: APP_DATABASE_URL
    table: request_logs
    cursor_column: createdAt
    lookback: 10m
"""

TABLES = """
CREATE TABLE usage_events (
    id text PRIMARY KEY, business_id text NOT NULL, event_type text NOT NULL,
    quantity numeric(20, 6) NOT NULL, unit_price_cents numeric, total_cost_cents numeric,
    metadata jsonb, created_at timestamptz NOT NULL);
CREATE TABLE request_logs (
    "requestId" text PRIMARY KEY, "tenantId" text NOT NULL, "userId" text, model text,
    "tokensIn" bigint NOT NULL, "tokensOut" bigint NOT NULL, "costCents" numeric,
    "toolInvocations" jsonb, "createdAt" timestamp NOT NULL);
"""


def insert_batch(conn, tag: str, start: str, count: int, step: str) -> None:
    """`count` rows of each table at `start + g * step` (g = 1..count), ids prefixed by `tag`.

    Quantities are fractional numerics and event types vary in case and spacing, so exactness and
    meter normalisation are exercised; three tenants; tool invocations sometimes empty.
    """
    conn.execute(
        """
        INSERT INTO usage_events
        SELECT %(tag)s || '-' || g,
               (ARRAY['acme', 'globex', 'initech'])[1 + g %% 3],
               (ARRAY['api_call', 'API_Call', ' voice_minute ', 'ai_query', 'Storage_MB'])[1 + g %% 5],
               (g %% 7) * 0.125 + 0.000001, g %% 3, g %% 5,
               jsonb_build_object('model', 'gpt-4o-mini', 'tokens', g),
               %(start)s::timestamptz + g * %(step)s::interval
        FROM generate_series(1, %(count)s) g
        """,
        {"tag": tag, "start": start, "count": count, "step": step},
    )
    conn.execute(
        """
        INSERT INTO request_logs
        SELECT 'req-' || %(tag)s || '-' || g,
               (ARRAY['acme', 'globex', 'initech'])[1 + g %% 3], 'u' || g %% 11,
               'claude-sonnet-4-5', 100 + g %% 900, 1 + g %% 333, (g %% 50) * 0.0125,
               CASE WHEN g %% 4 = 0 THEN '{}'::jsonb
                    ELSE jsonb_build_object('retrieval', g %% 3, 'webSearch', 1) END,
               (%(start)s::timestamptz + g * %(step)s::interval) AT TIME ZONE 'UTC'
        FROM generate_series(1, %(count)s) g
        """,
        {"tag": tag, "start": start, "count": count, "step": step},
    )


# SPEC 2.1/2.2 recomputed in SQL: meter = lower(trim(event_type)); usage_logs give input and
# output tokens and tool_calls = sum of toolInvocations values; days are UTC days.
EXPECTED_SQL = """
WITH records AS (
    SELECT business_id AS tenant, lower(trim(event_type)) AS meter,
           (created_at AT TIME ZONE 'UTC')::date AS day, quantity
    FROM usage_events
    UNION ALL
    SELECT "tenantId", 'llm_input_tokens', "createdAt"::date, "tokensIn" FROM request_logs
    UNION ALL
    SELECT "tenantId", 'llm_output_tokens', "createdAt"::date, "tokensOut" FROM request_logs
    UNION ALL
    SELECT "tenantId", 'tool_calls', "createdAt"::date,
           (SELECT coalesce(sum(value::numeric), 0) FROM jsonb_each_text("toolInvocations"))
    FROM request_logs
)
SELECT tenant, meter, day, sum(quantity) FROM records GROUP BY 1, 2, 3 HAVING sum(quantity) > 0
"""


def expected_usage(conn) -> dict[tuple[str, str, str], Decimal]:
    rows = conn.execute(EXPECTED_SQL).fetchall()
    return {(t, m, d.isoformat()): Decimal(q) for t, m, d, q in rows}


def published_usage(home: Path) -> dict[tuple[str, str, str], Decimal]:
    with duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT tenant_id, meter, usage_date, quantity FROM tenant_daily_usage"
            " WHERE quantity <> 0"
        ).fetchall()
    return {(t, m, d.isoformat()): Decimal(q) for t, m, d, q in rows}


def cli(home: Path, *args: str, exit_code: int = 0):
    result = CliRunner().invoke(main, [args[0], "--home", str(home), *args[1:]])
    assert result.exit_code == exit_code, (args, result.output, result.exception)
    return result


def cursor_of(home: Path, name: str) -> str | None:
    path = home / "state" / "pull" / f"{name}.json"
    return json.loads(path.read_text())["cursor"] if path.exists() else None


def pull_killed_before_cursor(home: Path, name: str) -> subprocess.CompletedProcess:
    """`meterline pull --name <name>` in a subprocess SIGKILLed where it records the cursor."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        import orchestration.defs.pull.postgres as postgres

        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        postgres.save_cursor = killed
        from orchestration.cli import main
        main(["pull", "--home", {str(home)!r}, "--name", {name!r}])
    """)
    return subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), timeout=300)


def raw_files(home: Path, source: str) -> list[Path]:
    return sorted((home / "raw" / source).rglob("pull-*.jsonl"))


def test_pulled_rows_reach_the_marts_exactly(pg_server, app_db, pull_home):
    home = pull_home
    (home / "sources.yml").write_text(SOURCES)
    with pg_server.connect(app_db) as conn:
        conn.execute(TABLES)
        # Pull 1: 600 rows per table over 2026-10-01 .. 2026-10-03 (one every 7 minutes).
        insert_batch(conn, "b1", "2026-10-01 00:00:00+00", 600, "7 minutes")
    cli(home, "pull")
    cursor1 = cursor_of(home, "app_events")
    assert cursor1 == "2026-10-03 22:00:00+00"  # 600 * 7 min after 2026-10-01 00:00
    assert cursor_of(home, "app_requests") == "2026-10-03 22:00:00"
    cli(home, "run")
    with pg_server.connect(app_db) as conn:
        assert published_usage(home) == expected_usage(conn)

        # Late commits: behind cursor1 but inside the 10-minute lookback, then new rows that
        # cross into 2026-10-04.
        insert_batch(conn, "late2", "2026-10-03 21:50:30+00", 100, "5 seconds")
        insert_batch(conn, "b2", "2026-10-03 22:00:00+00", 300, "1 minute")
    # Pull 2 of app_events dies after its raw file is in place, before the cursor is recorded.
    killed = pull_killed_before_cursor(home, "app_events")
    assert killed.returncode == -9
    [_, crashed_file] = raw_files(home, "events")
    # late2 + b2, and b1's rows after cursor1 - 10 min: 21:53 and 22:00 (b1 is one every 7 min)
    assert len(crashed_file.read_bytes().splitlines()) == 100 + 300 + 2
    assert cursor_of(home, "app_events") == cursor1  # not moved: its rows will be read again
    cli(home, "pull", "--name", "app_requests")

    with pg_server.connect(app_db) as conn:
        insert_batch(conn, "late3", "2026-10-04 02:51:00+00", 50, "10 seconds")
        insert_batch(conn, "b3", "2026-10-04 03:00:00+00", 200, "3 minutes")
    cli(home, "pull")  # pull 3: app_events re-reads everything since cursor1 - 10 min
    assert len(raw_files(home, "events")[-1].read_bytes().splitlines()) == 2 + 100 + 300 + 50 + 200

    with pg_server.connect(app_db) as conn:
        insert_batch(conn, "late4", "2026-10-04 12:55:00+00", 20, "10 seconds")
        insert_batch(conn, "b4", "2026-10-04 13:00:00+00", 30, "1 hour")
    cli(home, "pull")  # pull 4
    assert cursor_of(home, "app_events") == "2026-10-05 19:00:00+00"  # 13:00 + 30 h
    assert len(raw_files(home, "events")) == 4 and len(raw_files(home, "usage_logs")) == 4

    cli(home, "run")
    with pg_server.connect(app_db) as conn:
        expected = expected_usage(conn)
        (rows_in_pg,) = conn.execute("SELECT count(*) FROM usage_events").fetchone()
    assert published_usage(home) == expected
    assert rows_in_pg == 600 + 100 + 300 + 50 + 200 + 20 + 30
    with duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True) as con:
        accepted, duplicates, conflicts, quarantined = con.execute(
            "SELECT sum(accepted), sum(duplicates), sum(conflicts), sum(quarantined)"
            " FROM ingest_audit WHERE source = 'events'"
        ).fetchone()
    # Every row counted once; the overlaps are duplicates: pull 2 re-read b1's last 2 rows;
    # pull 3 re-read all 402 rows of the crashed pull 2; pull 4 (cursor 2026-10-04 13:00, b3 is
    # one row every 3 min) re-read b3's 12:51, 12:54, 12:57 and 13:00 rows. 2 + 402 + 4 = 408.
    assert (accepted, duplicates, conflicts, quarantined) == (rows_in_pg, 408, 0, 0)
