"""The pipeline jobs, which span steps: ingest -> transform -> checks -> publish (SPEC 8
`meterline run`). The schedules and the sensor that start them live with ingestion
(orchestration/defs/ingest/schedules.py); the invoicing job with invoicing."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingest.assets import bronze_ingest, catalog_model_prices
from orchestration.defs.publish.assets import published_marts
from orchestration.defs.transform.assets import dbt_models

_TRANSFORM = dg.AssetSelection.assets(catalog_model_prices, dbt_models, published_marts)

# Ingest deliveries, build the marts, run every check, publish (SPEC 8 `meterline run`).
meterline_run = dg.define_asset_job(
    "meterline_run",
    selection=dg.AssetSelection.assets(bronze_ingest) | _TRANSFORM,
    description="Ingest deliveries -> bronze, dbt build, reconciliation checks, publish.",
)
# The same without ingestion, for runs with no new delivery (e.g. after a catalog change).
meterline_rebuild = dg.define_asset_job(
    "meterline_rebuild",
    selection=_TRANSFORM,
    description="dbt build, reconciliation checks, publish; no ingestion.",
)
