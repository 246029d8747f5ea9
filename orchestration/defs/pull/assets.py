"""One Dagster asset per PostgreSQL source of sources.yml, upstream of the raw source it feeds.

`pull_<name>` writes a new raw file into `raw/<source>/`; the delivery sensor then ingests it like
any other delivery. The assets run on a schedule and carry a freshness policy, so a source that
stopped being pulled shows up as stale in the asset graph.
"""

from datetime import timedelta

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.core.resources import MeterlineResource
from orchestration.defs.pull.postgres import pull_postgres_source
from orchestration.defs.pull.sources import PostgresSource

PULL_GROUP = "pull"
PULL_JOB = "meterline_pull"
PULL_CRON = "*/15 * * * *"
# Four missed schedule ticks warn, eight fail.
PULL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
)


def pull_asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(f"pull_{name}")


def pull_asset(source: PostgresSource) -> dg.AssetsDefinition:
    """The asset that pulls one source's new rows into one new raw file."""

    @dg.asset(
        key=pull_asset_key(source.name),
        group_name=PULL_GROUP,
        kinds={"postgres"},
        description=f"New rows of `{source.table}` (PostgreSQL, connection string from "
        f"${source.dsn_env}) past the cursor `{source.cursor_column}` minus "
        f"{source.lookback}, written as one raw `{source.source}` file (SPEC 2.7).",
        metadata={
            "table": source.table,
            "raw_source": source.source,
            "dsn_env": source.dsn_env,
            "cursor_column": source.cursor_column,
            "lookback_seconds": int(source.lookback.total_seconds()),
        },
        freshness_policy=PULL_FRESHNESS,
    )
    def _pull(context: AssetExecutionContext, meterline: MeterlineResource):
        result = pull_postgres_source(meterline.layout, source)
        if result.rows_without_cursor:
            context.log.warning(
                f"{result.rows_without_cursor} rows of {source.table} have no usable "
                f"{source.cursor_column} (NULL or infinity) and are not pulled"
            )
        file = result.file.relative_to(meterline.layout.raw).as_posix() if result.file else "none"
        context.log.info(f"pulled {result.rows} rows into {file}")
        return dg.MaterializeResult(
            metadata={
                "rows": result.rows,
                "raw_file": file,
                "cursor": result.cursor or "none",
                "previous_cursor": result.previous_cursor or "none",
                "rows_without_cursor": result.rows_without_cursor,
                "seconds": round(result.seconds, 3),
                "cpu_seconds": round(result.cpu_seconds, 3),
            }
        )

    return _pull


def with_pull_upstream(
    raw_specs: list[dg.AssetSpec], sources: list[PostgresSource]
) -> list[dg.AssetSpec]:
    """The raw source specs, each depending on the pull assets that write into it."""
    feeding: dict[str, list[dg.AssetKey]] = {}
    for source in sources:
        feeding.setdefault(source.source, []).append(pull_asset_key(source.name))
    return [
        spec.merge_attributes(deps=feeding[spec.key.path[-1]])
        if spec.key.path[-1] in feeding
        else spec
        for spec in raw_specs
    ]


def pull_definitions(sources: list[PostgresSource]) -> dict[str, list]:
    """Assets, job and schedule of the configured sources (nothing when there are none)."""
    if not sources:
        return {"assets": [], "jobs": [], "schedules": []}
    job = dg.define_asset_job(
        PULL_JOB,
        selection=dg.AssetSelection.groups(PULL_GROUP),
        description="Pull new rows from the application databases of sources.yml (SPEC 2.7).",
    )
    schedule = dg.ScheduleDefinition(
        name="pull_schedule",
        job=job,
        cron_schedule=PULL_CRON,
        execution_timezone="UTC",
        description="Every 15 minutes: pull every PostgreSQL source; the delivery sensor "
        "then ingests the new raw files.",
    )
    return {
        "assets": [pull_asset(source) for source in sources],
        "jobs": [job],
        "schedules": [schedule],
    }
