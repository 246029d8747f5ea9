"""Ingest (groups `raw` and `bronze`): the raw sources, bronze ingestion, the catalog's model
prices, the nightly schedule and the delivery sensor."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingest.assets import RAW_SOURCES, bronze_ingest, catalog_model_prices
from orchestration.defs.ingest.schedules import new_delivery_sensor, nightly_delivery_schedule
from orchestration.defs.pull.assets import with_pull_upstream
from orchestration.defs.pull.sources import PostgresSource

# Only the catalog's provider prices: how a run with no new delivery learns whether they changed
# (SPEC 9: with nothing new and the same prices, nothing is built).
meterline_prices = dg.define_asset_job(
    "meterline_prices",
    selection=dg.AssetSelection.assets(catalog_model_prices),
    description="Write the catalog's provider prices to bronze.",
)


def definitions(pull_sources: list[PostgresSource]) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            *with_pull_upstream(RAW_SOURCES, pull_sources),
            bronze_ingest,
            catalog_model_prices,
        ],
        jobs=[meterline_prices],
        schedules=[nightly_delivery_schedule],
        sensors=[new_delivery_sensor],
    )


def prices_definitions(meterline: dg.ConfigurableResource) -> dg.Definitions:
    """The prices job alone: a run with nothing new loads neither dbt nor the checks (~5 s less)."""
    return dg.Definitions(
        assets=[catalog_model_prices],
        jobs=[meterline_prices],
        resources={"meterline": meterline},
        executor=dg.in_process_executor,
    )
