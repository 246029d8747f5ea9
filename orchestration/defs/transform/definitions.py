"""Transform (groups `staging`, `intermediate`, `marts`): the dbt project and its resource."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.transform.assets import dbt_models, dbt_resource

# The run's batch (docs/incremental.md): the bronze files not built yet, listed from bronze/files
# by the dbt step before dbt starts; dbt reads it as the source `run.batch_files`.
BATCH_FILES = dg.AssetSpec(
    ["bronze", "batch_files"],
    deps=[["bronze", "files"]],
    group_name="bronze",
    kinds={"parquet"},
    description="The bronze files an incremental build has not built yet "
    "(warehouse/batch_files.parquet, written by dbt_models before dbt runs).",
)


def definitions() -> dg.Definitions:
    return dg.Definitions(assets=[BATCH_FILES, dbt_models], resources={"dbt": dbt_resource()})
