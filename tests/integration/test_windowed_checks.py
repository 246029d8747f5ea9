"""Checks that scale (SPEC 9): after an incremental build the reconciliation rules look at the UTC
days the build replaced, and tampering any row in one of those days still fails a named rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from meterline_harness import Home

from orchestration.defs.checks.reconciliation import run_rules, touched_days


def event(key: str, day: str, quantity: int) -> dict:
    return {
        "id": key,
        "business_id": "acme",
        "event_type": "api_call",
        "quantity": quantity,
        "created_at": f"{day}T10:00:00Z",
    }


def tamper(home: Home, day: str) -> None:
    con = duckdb.connect(str(home.warehouse))
    con.execute("UPDATE tenant_daily_usage SET quantity = quantity + 1 WHERE usage_date = ?", [day])
    con.close()


def daily_rule(home: Home, windows: list[date] | None):
    [outcome] = run_rules(home.warehouse, home.root, ["daily_usage_matches_bronze"], windows)
    return outcome


def test_a_tampered_row_in_a_replaced_day_fails_the_windowed_rule(tmp_path: Path):
    home = Home(tmp_path)
    home.deliver("events", "2026-10-01", "a.jsonl", [event("e1", "2026-10-01", 2)])
    home.ingest("2026-10-01")
    home.dbt_run()
    # the second delivery carries a new item of 10-02 and a late copy of e1 (10-01): both days
    # are replaced (the copy's day is touched although it changes nothing)
    home.deliver(
        "events",
        "2026-10-02",
        "a.jsonl",
        [event("e2", "2026-10-02", 3), event("e1", "2026-10-01", 2)],
    )
    home.ingest("2026-10-02")
    home.dbt_run()
    windows = touched_days(home.warehouse)
    assert windows == [date(2026, 10, 1), date(2026, 10, 2)]
    assert daily_rule(home, windows).passed

    tamper(home, "2026-10-02")
    outcome = daily_rule(home, windows)
    assert not outcome.passed
    assert "2026-10-02" in outcome.summary


def test_rows_outside_the_replaced_days_are_left_to_full_checks(tmp_path: Path):
    home = Home(tmp_path)
    home.deliver("events", "2026-10-01", "a.jsonl", [event("e1", "2026-10-01", 2)])
    home.ingest("2026-10-01")
    home.dbt_run()
    home.deliver("events", "2026-10-02", "a.jsonl", [event("e2", "2026-10-02", 3)])
    home.ingest("2026-10-02")
    home.dbt_run()
    windows = touched_days(home.warehouse)
    assert windows == [date(2026, 10, 2)]

    # 10-01 was checked when it was built; a later change to it is found by a full check (run on
    # every full refresh, reprice and after any failed check)
    tamper(home, "2026-10-01")
    assert daily_rule(home, windows).passed
    outcome = daily_rule(home, None)
    assert not outcome.passed
    assert "2026-10-01" in outcome.summary
