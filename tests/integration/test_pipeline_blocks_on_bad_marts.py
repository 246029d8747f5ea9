"""A tampered mart fails a named blocking check: nothing is published and no invoice is written."""

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import checks_failed
from orchestration.core.settings import HomeLayout
from orchestration.defs.checks.reconciliation_checks import reconciliation_checks
from orchestration.defs.ingest.assets import RAW_SOURCES, bronze_ingest, catalog_model_prices
from orchestration.defs.invoicing.assets import invoices
from orchestration.defs.invoicing.invoice_tables import InvoiceTables
from orchestration.defs.publish.assets import published_marts
from orchestration.defs.transform.assets import dbt_models, dbt_resource

MARTS = [
    "tenant_daily_usage",
    "tenant_monthly_usage",
    "fct_trace_sessions",
    "fct_usage_records",
    "platform_daily_cost",
    "ingest_audit",
    "agent_daily_stats",
    "quarantine",
    "team_daily_stats",
    "platform_daily_stats",
    "feature_monthly_usage",
]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def published_home(sample_home: Path, monkeypatch) -> Path:
    """The sample delivery run through the CLI once: published marts and October's draft invoices."""
    monkeypatch.setenv("DAGSTER_HOME", str(sample_home / "dagster"))
    runner = CliRunner()
    result = runner.invoke(main, ["run", "--home", str(sample_home)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main,
        [
            "invoice",
            "--home",
            str(sample_home),
            "--month",
            "2026-10",
            "--now",
            "2026-10-20T00:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    return sample_home


def verify_and_publish(home: Path) -> dg.ExecuteInProcessResult:
    """The checks and publish steps alone, on the build warehouse as it is now."""
    verify = dg.define_asset_job(
        "verify_and_publish",
        selection=dg.AssetSelection.assets(published_marts)
        | dg.AssetSelection.checks_for_assets(*MARTS),
    )
    defs = dg.Definitions(
        assets=[
            *RAW_SOURCES,
            bronze_ingest,
            catalog_model_prices,
            dbt_models,
            published_marts,
            invoices,
        ],
        asset_checks=[reconciliation_checks],
        jobs=[verify],
        resources={
            "meterline": MeterlineResource(home=str(home)),
            "dbt": dbt_resource(),
            "published_extras": InvoiceTables(),
        },
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("verify_and_publish").execute_in_process(raise_on_error=False)


def test_tampered_daily_mart_blocks_publish_and_invoices(published_home: Path):
    layout = HomeLayout(published_home)
    published_before = digest(layout.published)
    invoices_before = digest(layout.invoices)

    con = duckdb.connect(str(layout.warehouse))
    con.execute(
        "UPDATE tenant_daily_usage SET quantity = quantity + 1 "
        "WHERE tenant_id = 'acme' AND meter = 'api_call'"
    )
    con.close()

    result = verify_and_publish(published_home)
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "daily_usage_matches_bronze" in failed
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "published_marts" not in materialized
    assert digest(layout.published) == published_before
    summaries = {f["rule"]: f["summary"] for f in checks_failed(layout)}
    assert "acme" in summaries["daily_usage_matches_bronze"]
    assert "api_call" in summaries["daily_usage_matches_bronze"]
    assert "2026-10-03" in summaries["daily_usage_matches_bronze"]

    # `meterline invoice` refuses while the latest build failed a blocking check
    result = CliRunner().invoke(
        main,
        [
            "invoice",
            "--home",
            str(published_home),
            "--month",
            "2026-10",
            "--now",
            "2026-10-21T00:00:00Z",
        ],
    )
    assert result.exit_code == 1
    assert digest(layout.invoices) == invoices_before

    # a run that rebuilds the marts from bronze passes again, publishes and unblocks invoicing
    result = CliRunner().invoke(main, ["run", "--home", str(published_home)])
    assert result.exit_code == 0, result.output
    assert checks_failed(layout) is None


def test_a_row_breaking_a_dbt_data_test_blocks_publish(published_home: Path):
    """Row shapes are dbt data tests (models/marts/_marts.yml), not GX suites: a broken one
    still stops publishing."""
    layout = HomeLayout(published_home)
    published_before = digest(layout.published)

    # a negative conflict count that keeps items_read = accepted + duplicates + conflicts +
    # quarantined, so only the non-negative test can see it (ingest_audit_identity still holds)
    con = duckdb.connect(str(layout.warehouse))
    con.execute(
        "UPDATE ingest_audit SET accepted = accepted + 1, conflicts = conflicts - 1 "
        "WHERE source = 'events'"
    )
    con.close()

    result = verify_and_publish(published_home)

    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "published_marts" not in materialized
    assert digest(layout.published) == published_before
    # `dbt:<the test's unique_id>`, without its trailing hash
    failed = {f["rule"].rsplit(".", 1)[0] for f in checks_failed(layout)}
    assert failed == {"dbt:test.meterline.accepted_range_ingest_audit_conflicts__0"}
