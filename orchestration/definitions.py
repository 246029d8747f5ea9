"""The one Definitions object of Meterline: raw -> bronze -> dbt -> checks -> publish -> invoices."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from orchestration.core.resources import MeterlineResource
from orchestration.core.settings import resolve_home
from orchestration.defs.checks import definitions as checks_definitions
from orchestration.defs.ingest import definitions as ingest_definitions
from orchestration.defs.invoicing import definitions as invoicing_definitions
from orchestration.defs.jobs import meterline_rebuild, meterline_run
from orchestration.defs.publish import definitions as publish_definitions
from orchestration.defs.pull import definitions as pull_definitions
from orchestration.defs.pull.sources import SourcesError, load_sources
from orchestration.defs.transform import definitions as transform_definitions
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
    # one Definitions per step of the flow (orchestration/defs/<step>/definitions.py)
    return dg.Definitions.merge(
        pull_definitions.definitions(pull_sources),
        ingest_definitions.definitions(pull_sources),
        transform_definitions.definitions(),
        checks_definitions.definitions(),
        publish_definitions.definitions(),
        invoicing_definitions.definitions(_grace_period_days(meterline)),
        dg.Definitions(
            jobs=[meterline_run, meterline_rebuild, generate_sample_month],
            resources={"meterline": meterline},
            executor=dg.in_process_executor,
        ),
    )


defs = build_definitions()
