"""Ingest (groups `raw` and `bronze`): the raw sources, bronze ingestion, the catalog's model
prices, the nightly schedule and the delivery sensor."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingest.assets import RAW_SOURCES, bronze_ingest, catalog_model_prices
from orchestration.defs.ingest.schedules import new_delivery_sensor, nightly_delivery_schedule
from orchestration.defs.pull.assets import with_pull_upstream
from orchestration.defs.pull.sources import PostgresSource


def definitions(pull_sources: list[PostgresSource]) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            *with_pull_upstream(RAW_SOURCES, pull_sources),
            bronze_ingest,
            catalog_model_prices,
        ],
        schedules=[nightly_delivery_schedule],
        sensors=[new_delivery_sensor],
    )
