"""The asset graph of the real Definitions, snapshotted: every asset's group and upstream assets,
every check and every job. A change to the graph shows up here as a diff to review; after an
intended change, rewrite the snapshot with `METERLINE_UPDATE_SNAPSHOTS=1 pytest <this file>`."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.json"
# The folders of orchestration/defs/ and the asset groups each one defines (docs/structure.md).
GROUPS_BY_STEP = {
    "pull": {"pull"},
    "ingest": {"raw", "bronze"},
    "transform": {"staging", "intermediate", "marts"},
    "publish": {"publish"},
    "invoicing": {"invoices"},
}


# one PostgreSQL source, so the graph holds a pull asset upstream of raw/events
SOURCES_YML = """\
postgres:
  - name: app_events
    source: events
    dsn_env: APP_DATABASE_URL
    table: public.usage_events
    cursor_column: created_at
    lookback: 10m
"""


def asset_graph(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {
        key.to_user_string(): {
            "group": graph.get(key).group_name,
            "deps": sorted(parent.to_user_string() for parent in graph.get(key).parent_keys),
        }
        for key in graph.get_all_asset_keys()
    }
    checks = sorted(
        f"{check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys
    )
    jobs = sorted(job.name for job in defs.resolve_all_job_defs() if job.name != "__ASSET_JOB")
    return {"assets": dict(sorted(assets.items())), "checks": checks, "jobs": jobs}


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    home = tmp_path_factory.mktemp("home")
    (home / "sources.yml").write_text(SOURCES_YML)
    return build_definitions(home)


@pytest.fixture(scope="module")
def graph(defs: dg.Definitions) -> dict:
    return asset_graph(defs)


def test_asset_graph_matches_the_snapshot(graph: dict):
    if os.environ.get("METERLINE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(graph, indent=2) + "\n")
    assert graph == json.loads(SNAPSHOT.read_text())


def test_the_lineage_runs_raw_to_invoices(graph: dict):
    """raw -> bronze -> staging -> intermediate -> marts -> publish -> invoices, each step one
    hop downstream of the one before (the lineage the Dagster UI draws)."""
    assets = graph["assets"]
    chain = [
        "pull_app_events",
        "raw/events",
        "bronze/events",
        "stg_events__usage_items",
        "int_events_copies_classified",
        "int_usage_records_unioned",
        "fct_usage_records",
        "tenant_monthly_usage",
        "published_marts",
        "invoices",
        "fct_invoice_lines",
    ]
    for upstream, downstream in zip(chain, chain[1:], strict=False):
        assert upstream in assets[downstream]["deps"], (upstream, downstream)


def test_each_defs_folder_owns_its_groups(graph: dict):
    """The groups in the UI are exactly those of the step folders, nothing else."""
    groups = {node["group"] for node in graph["assets"].values()}
    assert groups == set().union(*GROUPS_BY_STEP.values())


def test_every_mart_column_has_a_type_and_a_description(defs: dg.Definitions):
    """What the Dagster UI shows on a mart's page: each column with its type and description,
    from dbt's yml (dbt_project/models/marts/_marts.yml)."""
    graph = defs.resolve_asset_graph()
    marts = [key for key in graph.get_all_asset_keys() if graph.get(key).group_name == "marts"]
    assert len(marts) == 12
    for key in marts:
        columns = graph.get(key).metadata["dagster/column_schema"].columns
        assert columns, key
        for column in columns:
            assert column.type and column.description, (key, column.name)
            assert "{{" not in column.description, (key, column.name)
