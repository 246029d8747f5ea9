"""Row shapes live in dbt yml (docs/checks.md): every rule the GX `*_contract` suites checked is a
dbt data test now. A real build of the sample delivery passes them all; then each tampering
below breaks one row-shape rule of one mart, and `dbt test` fails exactly the named test."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from meterline_harness import Home

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"

# (the change behind the build's back, the dbt test that must fail). Each change touches a row of
# the sample's day (2026-10-03), one of the days the build replaced, so windowed tests see it.
TAMPERINGS = {
    "usage record counted twice": (
        "insert into fct_usage_records select * from fct_usage_records "
        "where record_key = (select min(record_key) from fct_usage_records)",
        "unique_fct_usage_records_record_key",
    ),
    "negative usage quantity": (
        "update fct_usage_records set quantity = -1 where meter = 'api_call'",
        "accepted_range_fct_usage_records_quantity__0",
    ),
    "a NULL cost on a record that does not say it is unpriced": (
        "update fct_usage_records set cost_usd = null where meter = 'llm_input_tokens'",
        "not_null_fct_usage_records_cost_usd",
    ),
    "failed trace billed (fct_trace_sessions is a view of int_traces_assembled)": (
        "update int_traces_assembled set is_billable = not is_billable",
        "expression_is_true_fct_trace_sessions_is_billable_status_in_ok_unset_",
    ),
    "negative trace duration": (
        "update int_traces_assembled set ended_at = started_at - interval 1 second",
        "accepted_range_fct_trace_sessions_duration_ms__0",
    ),
    "daily meter outside SPEC": (
        "update tenant_daily_usage set meter = 'API_CALL' where meter = 'api_call'",
        "accepted_values_tenant_daily_usage_meter___var_meters_",
    ),
    "daily row with no record behind it": (
        "update tenant_daily_usage set record_count = 0 where meter = 'voice_minute'",
        "accepted_range_tenant_daily_usage_record_count__1",
    ),
    "monthly row not on the first of its month": (
        "update tenant_monthly_usage set usage_month = usage_month + 1 where meter = 'traces'",
        "expression_is_true_tenant_monthly_usage_usage_month_date_trunc_month_usage_month_",
    ),
    "more error sessions than sessions": (
        "update agent_daily_stats set error_sessions = sessions + 1",
        "expression_is_true_agent_daily_stats_error_sessions_sessions",
    ),
    "cost row for a source without provider costs": (
        "insert into platform_daily_cost (usage_date, source, tenant_id, cost_usd, unpriced_items) "
        "values ('2026-10-03', 'events', 'acme', 0, 0)",
        "accepted_values_platform_daily_cost_source__usage_logs__traces__sessions",
    ),
    "negative audit count (the audit identity still holds)": (
        "update ingest_audit set accepted = accepted + 1, conflicts = conflicts - 1 "
        "where source = 'events'",
        "accepted_range_ingest_audit_conflicts__0",
    ),
    "quarantined item recorded twice": (
        "insert into quarantine select * from quarantine",
        "unique_combination_quarantine_file__line_number__item_position",
    ),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The sample delivery (one day, four sources), ingested and built once."""
    home = Home(tmp_path_factory.mktemp("row-contracts"))
    for source in ("events", "usage_logs", "traces", "sessions"):
        home.deliver(
            source,
            "2026-10-03",
            f"{source}.jsonl",
            (SAMPLES / f"{source}.jsonl").read_text().splitlines(),
        )
    home.ingest("2026-10-03")
    home.dbt_run()
    return home


def test_the_sample_build_passes_every_row_contract(built: Home) -> None:
    assert built.dbt_test() == set()


def test_each_tampering_fails_exactly_its_dbt_test(built: Home) -> None:
    with duckdb.connect(str(built.warehouse)) as connection:
        for change, _ in TAMPERINGS.values():
            connection.execute(change)

    failed = built.dbt_test()

    assert failed == {test for _, test in TAMPERINGS.values()}
