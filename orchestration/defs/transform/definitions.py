"""Transform (groups `staging`, `intermediate`, `marts`): the dbt project and its resource."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.transform.assets import dbt_models, dbt_resource


def definitions() -> dg.Definitions:
    return dg.Definitions(assets=[dbt_models], resources={"dbt": dbt_resource()})
