"""The dbt project (staging -> intermediate -> marts) as Dagster assets; dbt tests become checks."""

import json
import os
import re
import subprocess
import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer
from packaging.version import Version

from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import mark_checks_failed, mark_run_started
from orchestration.core.settings import DBT_PROJECT_DIR
from orchestration.defs.ingest.bronze import prepare_bronze
from orchestration.defs.transform.build_batch import FULL_REFRESH_TAG, plan_build, write_batch
from orchestration.defs.transform.spark_engine import (
    DBT_TARGETS,
    ENGINE_TAG,
    create_views_on_duckdb,
    import_spark_tables,
    prepare_spark_home,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # dbt colours its messages
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
# What the manifest is parsed from: when one of these is newer than the manifest, it is stale.
_DBT_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "seeds")


def _manifest_target() -> Path:
    """`dbt_project/target`, or a per-user cache folder when the project folder is read-only
    (a system-wide `pip install`)."""
    if os.access(DBT_PROJECT_DIR, os.W_OK):
        return Path("target")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "meterline" / f"dbt-target-{installed_version('meterline')}"


def _manifest_is_current(project: DbtProject) -> bool:
    if not project.manifest_path.exists():
        return False
    built = project.manifest_path.stat().st_mtime
    for name in _DBT_SOURCES:
        path = project.project_dir / name
        files = path.rglob("*") if path.is_dir() else [path] if path.exists() else []
        if any(f.stat().st_mtime > built for f in files):
            return False
    return True


class ManifestPreparer(DagsterDbtProjectPreparer):
    """`dbt parse` with the dbt of this environment (it need not be on PATH), logs off the project."""

    def _prepare_manifest(self, project: DbtProject) -> None:
        target = project.project_dir / project.target_path
        completed = subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(project.project_dir),
             "--profiles-dir", str(project.profiles_dir), "--target-path", str(target),
             "--log-path", str(target / "logs")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(f"dbt parse failed: {_ANSI.sub('', completed.stdout).strip()}")
        self._invalidate_seeds_in_partial_parse(project)


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=_manifest_target()
)
# A fresh checkout, `pip install .` or an edited model: the manifest is prepared on first use, so
# `meterline` needs no `make` step; a current manifest costs only a look at file times.
if not _manifest_is_current(dbt_project):
    ManifestPreparer().prepare(dbt_project)


def _is_batch_source(dbt_resource_props: dict[str, Any]) -> bool:
    return (
        dbt_resource_props["resource_type"] == "source"
        and dbt_resource_props["source_name"] == "run"
    )


class MeterlineDbtTranslator(DagsterDbtTranslator):
    """Marts keep their bare names (what analysts query); layers become asset groups."""

    def get_asset_key(self, dbt_resource_props: dict[str, Any]) -> dg.AssetKey:
        # the run's batch: the bronze files not built yet, listed from bronze/files by this
        # asset before dbt starts (docs/incremental.md)
        if _is_batch_source(dbt_resource_props):
            return dg.AssetKey(["bronze", "batch_files"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str | None:
        if _is_batch_source(dbt_resource_props):
            return "bronze"
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["fqn"][1]  # staging / intermediate / marts
        return super().get_group_name(dbt_resource_props)


translator = MeterlineDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_code_references=False)
)


def dbt_environment(meterline: MeterlineResource) -> None:
    """dbt reads METERLINE_HOME from the environment; telemetry stays off (no network)."""
    layout = meterline.layout
    os.environ["METERLINE_HOME"] = str(layout.home)
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DBT_LOG_PATH"] = str(layout.logs / "dbt")
    layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
    prepare_bronze(layout.bronze)  # a home with no delivery yet still builds (empty) marts


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=translator,
    pool="duckdb_writer",
    name="dbt_models",
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, meterline: MeterlineResource):
    """`dbt build`: every model, then its data tests (error-severity tests are blocking checks).

    dbt unit tests prove the SQL logic, not the data, so they run in `make test` (as dbt advises:
    development and CI, not production) rather than on every nightly run.
    """
    layout = meterline.layout
    mark_run_started(layout, context.run.run_id)
    dbt_environment(meterline)
    # `meterline run --engine spark` (run tag): the same models on Spark (spark_engine.py)
    engine = context.run.tags.get(ENGINE_TAG, "duckdb")
    if engine == "spark":
        prepare_spark_home(meterline.layout.home)
    plan = plan_build(
        layout,
        full_refresh=context.run.tags.get(FULL_REFRESH_TAG) == "true",
        # dbt-spark has no delete+insert on plain Parquet: Spark builds rebuild in full
        # (docs/scale-out.md)
        engine=engine,
    )
    write_batch(layout, plan)
    args = ["build", "--exclude-resource-type", "unit_test", "--target", DBT_TARGETS[engine]]
    if plan.full_refresh:
        context.log.info(f"full refresh: {plan.full_refresh}")
        args.append("--full-refresh")
    else:
        context.log.info(
            f"incremental build of {len(plan.batch)} new bronze files"
            + (
                "; provider prices changed: rebuilding the models that use them"
                if plan.reprice
                else ""
            )
        )
        if plan.reprice:
            args += ["--vars", json.dumps({"reprice": True})]
    invocation = dbt.cli(
        args,
        context=context,
        target_path=meterline.layout.dbt_target,
        raise_on_error=False,
    )
    yield from invocation.stream()
    if not invocation.is_successful():
        failed = [
            {
                "rule": f"dbt:{r['unique_id']}",
                "summary": _ANSI.sub("", r.get("message") or r["status"]),
            }
            for r in invocation.get_artifact("run_results.json")["results"]
            if r["status"] in ("error", "fail")
        ]
        mark_checks_failed(meterline.layout, failed)
        raise dg.Failure(
            "dbt build failed: " + "; ".join(f"{f['rule']}: {f['summary']}" for f in failed)
        )
    if engine == "spark":
        # checks and publish read the DuckDB build warehouse, as after a DuckDB build
        nodes = invocation.get_artifact("manifest.json")["nodes"].values()
        tables = [
            n["name"]
            for n in nodes
            if n["resource_type"] == "model" and n["config"]["materialized"] != "view"
        ]
        import_spark_tables(layout.home, layout.warehouse, tables)
        create_views_on_duckdb(
            DBT_EXECUTABLE, dbt_project.project_dir, layout.dbt_target, layout.logs / "dbt"
        )


class MeterlineDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs Meterline never uses (~5 s per run).

    Before each invocation dagster-dbt runs `dbt --version` in a subprocess and loads every dbt
    macro in-process to hold an adapter handle; the handle only serves `fetch_column_metadata` /
    `fetch_row_counts`, which Meterline does not call. dbt-core is pinned in this environment, so
    its version is read from the package metadata instead.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - dagster-dbt's signature
        return None


def dbt_resource() -> DbtCliResource:
    return MeterlineDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
