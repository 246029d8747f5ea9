"""The one Definitions object of Meterline: raw -> bronze -> dbt -> checks -> publish -> invoices."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from orchestration.core.resources import MeterlineResource
from orchestration.core.settings import resolve_home
from orchestration.defs.checks.ai_usage_checks import AI_USAGE_CHECKS
from orchestration.defs.checks.reconciliation_checks import reconciliation_checks
from orchestration.defs.ingest.assets import RAW_SOURCES, bronze_ingest, catalog_model_prices
from orchestration.defs.invoicing.assets import invoices
from orchestration.defs.invoicing.simulate_job import simulate_month_job
from orchestration.defs.jobs import (
    meterline_invoice,
    meterline_rebuild,
    meterline_run,
    monthly_invoice_schedule,
    new_delivery_sensor,
    nightly_delivery_schedule,
)
from orchestration.defs.publish.assets import published_marts
from orchestration.defs.pull.assets import pull_definitions, with_pull_upstream
from orchestration.defs.pull.sources import SourcesError, load_sources
from orchestration.defs.transform.assets import dbt_models, dbt_resource
from orchestration.generate.job import generate_sample_month

DEFAULT_GRACE_PERIOD_DAYS = 3


def _grace_period_days(meterline: MeterlineResource) -> int:
    """The catalog's grace period; an invalid catalog is reported when a run starts, not here."""
    try:
        return meterline.load_catalog().grace_period_days
    except Exception:  # noqa: BLE001 - the UI must still load to show the error on run
        return DEFAULT_GRACE_PERIOD_DAYS


def _pull_sources(home: Path):
    """The PostgreSQL sources; a bad sources.yml is reported by `meterline pull`, not here."""
    try:
        return load_sources(home)
    except SourcesError:
        return []


def build_definitions(home: Path | None = None, catalog: Path | None = None) -> dg.Definitions:
    """All assets, checks, jobs, schedules and the sensor for one METERLINE_HOME and catalog."""
    meterline = MeterlineResource(
        home=str(resolve_home(home)),
        catalog=str(catalog) if catalog else os.environ.get("METERLINE_CATALOG"),
    )
    pull_sources = _pull_sources(Path(meterline.home))
    pulls = pull_definitions(pull_sources)
    return dg.Definitions(
        assets=[
            *pulls["assets"],
            *with_pull_upstream(RAW_SOURCES, pull_sources),
            bronze_ingest,
            catalog_model_prices,
            dbt_models,
            published_marts,
            invoices,
        ],
        asset_checks=[reconciliation_checks, *AI_USAGE_CHECKS],
        jobs=[
            meterline_run,
            meterline_rebuild,
            meterline_invoice,
            generate_sample_month,
            *pulls["jobs"],
            simulate_month_job,
        ],
        schedules=[
            nightly_delivery_schedule,
            monthly_invoice_schedule(_grace_period_days(meterline)),
            *pulls["schedules"],
        ],
        sensors=[new_delivery_sensor],
        resources={"meterline": meterline, "dbt": dbt_resource()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
