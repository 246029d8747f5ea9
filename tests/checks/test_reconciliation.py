"""The reconciliation rules on a real DuckDB file: all pass, then each breaks."""

import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.checks import RULES, failing_rows_markdown, run_rule, run_rules
from orchestration.defs.checks.reconciliation import _open_read_only

EVENTS_FILE = "events/2026-10-03/events.jsonl"


def rules_reading(table: str) -> list[str]:
    """Every rule whose SQL reads `table`: the only ones a change to that table can affect."""
    return [name for name, rule in RULES.items() if re.search(rf"\b{table}\b", rule.sql)]


def test_every_rule_passes_on_a_reconciled_warehouse(warehouse: Path, home: Path) -> None:
    outcomes = run_rules(warehouse, home)

    assert [outcome.rule for outcome in outcomes] == list(RULES)
    for outcome in outcomes:
        assert outcome.passed, outcome.summary
        assert outcome.failing_rows.empty
        assert outcome.summary.startswith(f"{outcome.rule}: all ")
        assert failing_rows_markdown(outcome) == "No failing rows."
        assert outcome.data_docs_path is not None and outcome.data_docs_path.is_file()
        assert outcome.data_docs_path.is_relative_to(home / "gx" / "data_docs")
        assert outcome.statistics["rows_checked"] > 0
        assert outcome.statistics["failing_rows"] == 0
    assert (home / "gx" / "data_docs" / "local_site" / "index.html").is_file()


# (table changed, the change, the rules that must fail, {rule: exact summary})
TAMPERINGS = {
    "daily quantity off": (
        "tenant_daily_usage",
        "update tenant_daily_usage set quantity = 12 "
        "where tenant_id = 'acme' and meter = 'api_call'",
        {"daily_usage_matches_bronze", "monthly_usage_matches_daily"},
        {
            "daily_usage_matches_bronze": "tenant acme, meter api_call, 2026-10-03: "
            "quantity mart 12 vs bronze 1",
            "monthly_usage_matches_daily": "tenant acme, meter api_call, month 2026-10-01: "
            "quantity monthly 1 vs daily 12",
        },
    ),
    "daily row missing (late usage on the UTC day)": (
        "tenant_daily_usage",
        "delete from tenant_daily_usage where meter = 'voice_minute'",
        {"daily_usage_matches_bronze", "monthly_usage_matches_daily"},
        {
            "daily_usage_matches_bronze": "tenant acme, meter voice_minute, 2026-11-01: "
            "quantity mart 0 vs bronze 2.75; record_count mart 0 vs bronze 1",
        },
    ),
    "daily meter spelled differently": (
        "tenant_daily_usage",
        "update tenant_daily_usage set meter = 'API_CALL' where tenant_id = 'globex' "
        "and meter = 'api_call'",
        # the meter's domain is dbt's accepted_values test (test_row_contracts.py); the
        # reconciliations see a day of usage under a meter that bronze never had, and the
        # api_call row of the day missing (API_CALL sorts first)
        {"daily_usage_matches_bronze", "monthly_usage_matches_daily"},
        {
            "daily_usage_matches_bronze": "tenant globex, meter API_CALL, 2026-10-03: "
            "quantity mart 1 vs bronze 0; record_count mart 1 vs bronze 0 "
            "(and 1 more failing rows)",
        },
    ),
    "bronze usage missing from the marts": (
        "int_events_copies_classified",
        "insert into int_events_copies_classified values "
        "('initech', 'api_call', 4, '2026-10-05 08:00:00+00', 'accepted')",
        {"daily_usage_matches_bronze"},
        {
            "daily_usage_matches_bronze": "tenant initech, meter api_call, 2026-10-05: "
            "quantity mart 0 vs bronze 4; record_count mart 0 vs bronze 1",
        },
    ),
    "monthly record count off": (
        "tenant_monthly_usage",
        "update tenant_monthly_usage set record_count = 5 where meter = 'llm_input_tokens'",
        {"monthly_usage_matches_daily"},
        {
            "monthly_usage_matches_daily": "tenant acme, meter llm_input_tokens, "
            "month 2026-10-01: record_count monthly 5 vs daily 4",
        },
    ),
    "monthly row not on the first of the month": (
        "tenant_monthly_usage",
        "update tenant_monthly_usage set usage_month = '2026-10-02' where meter = 'traces'",
        # the month's first day is also dbt's expression_is_true test (test_row_contracts.py)
        {"monthly_usage_matches_daily"},
        {},
    ),
    "usage record with a negative cost": (
        "fct_usage_records",
        "update fct_usage_records set cost_usd = -0.000000000001 "
        "where record_key = 'usage_logs:r2:llm_input_tokens'",
        # the feature mart no longer adds up to the records' cost (the sign itself is dbt's
        # accepted_range test, test_row_contracts.py)
        {"feature_monthly_usage_matches_usage_cost"},
        {},
    ),
    "trace tokens off": (
        "fct_trace_sessions",
        "update fct_trace_sessions set output_tokens = 165 where trace_id = 't1'",
        # the team and platform views were built from the sessions before the change
        {
            "trace_sessions_match_spans",
            "team_daily_stats_match_sessions",
            "platform_daily_stats_match_sessions",
        },
        {
            "trace_sessions_match_spans": "tenant acme, 2026-10-03, first trace off t1: "
            "output_tokens mart 185 vs spans 184; traces_off 1 above 0",
        },
    ),
    "trace tokens off in ways that cancel out within the day": (
        "fct_trace_sessions",
        "update fct_trace_sessions set output_tokens = output_tokens "
        "+ case trace_id when 't1' then 1 else -1 end",
        {"trace_sessions_match_spans"},
        {
            "trace_sessions_match_spans": "tenant acme, 2026-10-03, first trace off t1: "
            "traces_off 2 above 0",
        },
    ),
    "trace session counted twice": (
        "fct_trace_sessions",
        "insert into fct_trace_sessions select * from fct_trace_sessions where trace_id = 't2'",
        {
            "trace_sessions_match_spans",
            "team_daily_stats_match_sessions",
            "platform_daily_stats_match_sessions",
        },
        {
            "trace_sessions_match_spans": "tenant acme, 2026-10-03, first trace off t2: "
            "span_count mart 4 vs spans 3; input_tokens mart 1012 vs spans 912; "
            "output_tokens mart 204 vs spans 184; cost_usd mart 0.006096 vs spans 0.005496; "
            "traces_off 1 above 0",
        },
    ),
    "team cost off": (
        "team_daily_stats",
        "update team_daily_stats set cost_usd = 0.005",
        {"team_daily_stats_match_sessions"},
        {
            "team_daily_stats_match_sessions": "tenant acme, 2026-10-03: "
            "cost_usd mart 0.005 vs facts 0.005496",
        },
    ),
    "platform day missing a billable session": (
        "platform_daily_stats",
        "update platform_daily_stats set billable_sessions = 0",
        {"platform_daily_stats_match_sessions"},
        {
            "platform_daily_stats_match_sessions": "2026-10-03: "
            "billable_sessions mart 0 vs facts 1",
        },
    ),
    "feature cost counted twice": (
        "feature_monthly_usage",
        "insert into feature_monthly_usage select * from feature_monthly_usage "
        "where source = 'sessions'",
        {"feature_monthly_usage_matches_usage_cost"},
        {
            "feature_monthly_usage_matches_usage_cost": "tenant globex, source sessions, "
            "month 2026-10-01: cost_usd mart 0.00566 vs facts 0.00283",
        },
    ),
    "provider cost off by 10^-12 USD": (
        "platform_daily_cost",
        "update platform_daily_cost set cost_usd = cost_usd + 0.000000000001 "
        "where source = 'usage_logs'",
        {"platform_cost_matches_provider_cost"},
        {
            "platform_cost_matches_provider_cost": "tenant acme, source usage_logs, 2026-10-03: "
            "cost_usd mart 0.203850000001 vs provider 0.20385",
        },
    ),
    "audit items not accounted for": (
        "ingest_audit",
        "update ingest_audit set duplicates = 2 where source = 'events'",
        {"ingest_audit_identity"},
        {"ingest_audit_identity": f"file {EVENTS_FILE}: items_read 20 vs items_accounted 21"},
    ),
    "quarantined item lost": (
        "quarantine",
        "delete from quarantine",
        {"ingest_audit_identity"},
        {"ingest_audit_identity": f"file {EVENTS_FILE}: audit_quarantined 1 vs quarantine_rows 0"},
    ),
    "quarantined item recorded twice": (
        "quarantine",
        "insert into quarantine select * from quarantine",
        # the fixture quarantined one item of the file; the audit still says one
        {"ingest_audit_identity"},
        {"ingest_audit_identity": f"file {EVENTS_FILE}: audit_quarantined 1 vs quarantine_rows 2"},
    ),
}


@pytest.mark.parametrize(
    ("table", "change", "failing", "summaries"), TAMPERINGS.values(), ids=TAMPERINGS.keys()
)
def test_a_tampered_table_fails_exactly_the_rules_that_guard_it(
    warehouse: Path,
    home: Path,
    tamper: Callable[[str], None],
    table: str,
    change: str,
    failing: set[str],
    summaries: dict[str, str],
) -> None:
    tamper(change)

    outcomes = {o.rule: o for o in run_rules(warehouse, home, rules_reading(table))}

    assert {name for name, outcome in outcomes.items() if not outcome.passed} == failing
    for rule, summary in summaries.items():
        assert outcomes[rule].summary == summary
        assert not outcomes[rule].failing_rows.empty
        assert outcomes[rule].guards_money


def test_failing_rows_carry_keys_both_sides_and_the_difference(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    tamper("update tenant_daily_usage set quantity = quantity + 1, record_count = 9")

    outcome = run_rule("daily_usage_matches_bronze", warehouse, home)

    assert not outcome.passed
    assert list(outcome.failing_rows.columns) == [
        "usage_date",
        "tenant_id",
        "meter",
        "mart_quantity",
        "bronze_quantity",
        "quantity_difference",
        "mart_record_count",
        "bronze_record_count",
        "record_count_difference",
        "violations",
    ]
    assert len(outcome.failing_rows) == 11  # every row of the fixture's tenant_daily_usage
    first = outcome.failing_rows.iloc[0]
    assert (first.tenant_id, first.meter, str(first.quantity_difference)) == (
        "acme",
        "api_call",
        "1.000000000000",
    )
    assert outcome.statistics["failed_expectations"] == {
        "column_pair_values_to_be_equal(mart_quantity, bronze_quantity)": 11,
        "column_pair_values_to_be_equal(mart_record_count, bronze_record_count)": 11,
    }
    markdown = failing_rows_markdown(outcome)
    assert markdown.splitlines()[0].startswith("| usage_date | tenant_id | meter | mart_quantity |")
    assert "| 2026-10-03 | acme | api_call | 2 | 1 | 1 | 9 | 1 | 8 |" in markdown
    assert outcome.data_docs_path is not None and outcome.data_docs_path.is_file()


def test_failing_rows_are_capped_at_fifty(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    tamper(
        "insert into int_events_copies_classified "
        "select 'initech', 'api_call', 1, timestamptz '2026-10-01 00:00:00+00' + to_days(day), "
        "'accepted' from range(60) as days(day)",
    )

    outcome = run_rule("daily_usage_matches_bronze", warehouse, home)

    assert len(outcome.failing_rows) == 50
    assert outcome.statistics["failing_rows"] == 60
    assert outcome.summary == (
        "tenant initech, meter api_call, 2026-10-01: quantity mart 0 vs bronze 1; "
        "record_count mart 0 vs bronze 1 (and 59 more failing rows)"
    )


@pytest.mark.parametrize(
    ("bound", "passed"),
    [(0.06, True), (0.05, True), (0.04, False)],
    ids=["rate below the bound", "rate at the bound", "rate above the bound"],
)
def test_quarantine_rate_is_checked_per_source_against_a_configurable_bound(
    warehouse: Path, home: Path, bound: float, passed: bool
) -> None:
    outcome = run_rule("quarantine_rate_within_bound", warehouse, home, max_quarantine_rate=bound)

    assert outcome.passed is passed
    assert outcome.guards_money is False
    assert outcome.statistics["max_quarantine_rate"] == bound
    assert outcome.statistics["quarantine_rate_by_source"] == {
        "events": 0.05,
        "sessions": 0.0,
        "traces": 0.0,
        "usage_logs": 0.0,
    }
    if not passed:
        assert outcome.summary == (
            "source events (1 of 20 items quarantined): quarantine_rate 0.05 above 0.04"
        )
        assert list(outcome.failing_rows.source) == ["events"]


def test_quarantine_rate_bound_defaults_to_five_percent(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    tamper("update ingest_audit set items_read = 19, accepted = 16 where source = 'events'")

    outcome = run_rule("quarantine_rate_within_bound", warehouse, home)

    assert not outcome.passed
    assert outcome.statistics["max_quarantine_rate"] == 0.05
    assert outcome.summary.startswith("source events (1 of 19 items quarantined)")


@pytest.mark.parametrize("bound", [-0.01, 1.5, float("nan"), "0.05"])
def test_a_bound_that_is_not_a_rate_is_refused(warehouse: Path, home: Path, bound: object) -> None:
    with pytest.raises(ValueError, match="max_quarantine_rate is a rate between 0 and 1"):
        run_rule("quarantine_rate_within_bound", warehouse, home, max_quarantine_rate=bound)


def test_unknown_rules_and_parameters_are_refused(warehouse: Path, home: Path) -> None:
    with pytest.raises(ValueError, match="unknown rule 'daily_usage'"):
        run_rule("daily_usage", warehouse, home)
    with pytest.raises(ValueError, match=r"unknown rule parameter\(s\) \['max_quarantine_rate'\]"):
        run_rule("daily_usage_matches_bronze", warehouse, home, max_quarantine_rate=0.1)


def test_a_missing_warehouse_is_reported(home: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no warehouse at"):
        run_rule("daily_usage_matches_bronze", home / "warehouse" / "build.duckdb", home)


def test_failing_groups_name_an_offending_key(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    tamper(
        "update fct_trace_sessions set cost_usd = cost_usd + 0.000000000001 where trace_id = 't2'"
    )

    traces = run_rule("trace_sessions_match_spans", warehouse, home)

    [row] = traces.failing_rows.itertuples()
    assert (row.first_trace_off, row.traces_off, str(row.cost_usd_difference)) == (
        "t2",
        1,
        "1E-12",
    )


def test_the_checks_connection_is_read_only_utc_and_memory_bounded(warehouse: Path) -> None:
    with _open_read_only(warehouse) as connection:
        settings = dict(
            connection.execute(
                "select name, value from duckdb_settings() "
                "where name in ('access_mode', 'TimeZone', 'memory_limit')"
            ).fetchall()
        )
        with pytest.raises(duckdb.Error, match="read-only"):
            connection.execute("delete from fct_usage_records")

    assert settings == {"access_mode": "read_only", "TimeZone": "UTC", "memory_limit": "512.0 MiB"}


# On 4 October acme sends one request (300 in, 30 out) and one failed trace of one span (40 in,
# 4 out) whose models have no price: their costs are unknown (NULL), each mart that carries cost
# sums the known ones (0 here) and counts the unpriced items.
UNPRICED_DAY = """
insert into int_usage_logs_copies_classified values
    ('acme', 300, 30, 0, '2026-10-04 13:00:00+00', 'accepted', null, null, null);
insert into int_usage_logs_costed values
    ('acme', '2026-10-04 13:00:00+00', null, 'accepted', 'unpriced');
insert into int_spans_costed values
    ('t3', 'acme', '2026-10-04 09:00:00+00', 40, 4, null, 'accepted', 'unpriced');
insert into int_traces_copies_classified values
    ('acme', '2026-10-04 09:00:00+00', 40, 4, 'accepted', null, null, null);
insert into fct_usage_records values
    ('usage_logs:r3:llm_input_tokens', 'usage_logs', 'acme', 'llm_input_tokens', 300,
     '2026-10-04 13:00:00+00', null, 'unpriced'),
    ('usage_logs:r3:llm_output_tokens', 'usage_logs', 'acme', 'llm_output_tokens', 30,
     '2026-10-04 13:00:00+00', null, 'unpriced'),
    ('traces:t3/s1:llm_input_tokens', 'traces', 'acme', 'llm_input_tokens', 40,
     '2026-10-04 09:00:00+00', null, 'unpriced'),
    ('traces:t3/s1:llm_output_tokens', 'traces', 'acme', 'llm_output_tokens', 4,
     '2026-10-04 09:00:00+00', null, 'unpriced');
insert into tenant_daily_usage values
    ('2026-10-04', 'acme', 'llm_input_tokens', 340, 2),
    ('2026-10-04', 'acme', 'llm_output_tokens', 34, 2);
update tenant_monthly_usage set quantity = quantity + 340, record_count = record_count + 2
    where tenant_id = 'acme' and meter = 'llm_input_tokens';
update tenant_monthly_usage set quantity = quantity + 34, record_count = record_count + 2
    where tenant_id = 'acme' and meter = 'llm_output_tokens';
insert into fct_trace_sessions values
    ('t3', 'acme', '2026-10-04 09:00:00+00', 10, 'error', false, 1, 1, 0, 0, 0, 40, 4, 0, 1);
insert into agent_daily_stats values ('2026-10-04', 'acme', 'support-bot', 1, 1, 40, 4, 0);
insert into platform_daily_cost values
    ('2026-10-04', 'traces', 'acme', 0, 1),
    ('2026-10-04', 'usage_logs', 'acme', 0, 1);
insert into team_daily_stats values ('2026-10-04', 'acme', 'team-a', 1, 1, 40, 4, 0);
insert into platform_daily_stats values ('2026-10-04', 1, 1, 0, 1, 40, 4, 0, 1);
insert into feature_monthly_usage values
    ('2026-10-01', 'acme', 'usage_logs', 'support', null, 1, 0),
    ('2026-10-01', 'acme', 'traces', 'chat', null, 1, 0);
"""


def test_unpriced_items_reconcile_with_unknown_costs(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    tamper(UNPRICED_DAY)

    for outcome in run_rules(warehouse, home):
        assert outcome.passed, outcome.summary


def test_an_unpriced_item_shown_as_free_or_lost_fails(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    tamper(
        UNPRICED_DAY
        + "update platform_daily_cost set unpriced_items = 0 where source = 'usage_logs';"
        + "update fct_trace_sessions set unpriced_spans = 0 where trace_id = 't3';"
    )

    outcomes = {
        outcome.rule: outcome
        for outcome in run_rules(
            warehouse,
            home,
            [
                "platform_cost_matches_provider_cost",
                "trace_sessions_match_spans",
            ],
        )
    }

    assert outcomes["platform_cost_matches_provider_cost"].summary == (
        "tenant acme, source usage_logs, 2026-10-04: unpriced_items mart 0 vs provider 1"
    )
    assert outcomes["trace_sessions_match_spans"].summary == (
        "tenant acme, 2026-10-04, first trace off t3: unpriced_spans mart 0 vs spans 1; "
        "traces_off 1 above 0"
    )


def test_the_margin_adds_up_to_the_records_cost_and_its_billed_total(
    warehouse: Path, home: Path, tamper: Callable[[str], None]
) -> None:
    rule = "tenant_monthly_margin_matches_usage_cost"
    assert run_rule(rule, warehouse, home).passed

    # globex's records cost 0.00283 in October (conftest); a margin built on a stale cost breaks
    tamper(
        "update tenant_monthly_margin set provider_cost_usd = 0.002, margin_usd = -0.002 "
        "where tenant_id = 'globex'"
    )
    outcome = run_rule(rule, warehouse, home)

    assert not outcome.passed and outcome.guards_money
    assert outcome.summary == (
        "tenant globex, month 2026-10-01: cost_usd mart 0.002 vs records 0.00283"
    )
