"""Running Meterline's Dagster jobs for the CLI: the instance in DAGSTER_HOME, the home lock,
recovery of runs left by dead processes, the progress line, and one line per failure."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orchestration.runner.run_lock import PID_TAG, home_lock, recover_dead_runs

if TYPE_CHECKING:
    from dagster import DynamicPartitionsDefinition

    from orchestration.cli import Context

GX_RUNNER = "orchestration.defs.checks.gx_runner"
EXIT_CHECK_FAILED = 1


def _instance(ctx: Context):
    """The Dagster instance in $DAGSTER_HOME, else <home>/dagster (telemetry off, one writer)."""
    import dagster as dg

    dagster_home = Path(os.environ.get("DAGSTER_HOME") or ctx.layout.home / "dagster")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    ensure_dagster_home(dagster_home)
    return dg.DagsterInstance.get()


def ensure_dagster_home(dagster_home: Path) -> None:
    """Create DAGSTER_HOME with a dagster.yaml that turns telemetry off, if it has none."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(
            "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"
        )


def _definitions(ctx: Context, job_name: str):
    if job_name == "meterline_prices":
        from orchestration.core.resources import MeterlineResource
        from orchestration.defs.ingest.definitions import prices_definitions

        catalog = str(ctx.catalog) if ctx.catalog else os.environ.get("METERLINE_CATALOG")
        return prices_definitions(MeterlineResource(home=str(ctx.layout.home), catalog=catalog))
    from orchestration.definitions import build_definitions

    return build_definitions(ctx.layout.home, ctx.catalog)


def execute(
    ctx: Context,
    job_name: str,
    preload: str | None = None,
    files_to_ingest: int = 0,
    partitions: tuple[DynamicPartitionsDefinition, list[str]] | None = None,
    **kwargs,
) -> bool:
    """Run one job in this process against the shared instance; False when it failed.

    `preload` names a module the job needs late, imported in the background once the job starts;
    `files_to_ingest` is how many raw files the run should ingest (for the terminal's status line);
    `partitions` are the keys the run covers (registered first: partitions follow the data).
    """
    from dagster._core.utils import make_new_run_id

    from orchestration.core.partitions import add_partitions, partition_range
    from orchestration.runner.run_progress import RunProgress

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    run_config = {
        **kwargs.pop("run_config", {}),
        # failures are reported below in one line each; their stack traces are in the Dagster UI
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    # dbt's progress lines go to a log file; the run's events are in the Dagster UI.
    log_file = ctx.layout.logs / f"{job_name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    tags = {**kwargs.pop("tags", {}), PID_TAG: str(os.getpid())}
    with home_lock(ctx.layout.home, on_wait=_say_waiting(ctx)):
        # first thing under the lock, before the definitions load: free what dead runs hold
        instance = _instance(ctx)
        for run_id in recover_dead_runs(instance):
            click.echo(f"marked run {run_id} of a dead meterline process as failed", err=True)
        if partitions:
            definition, keys = partitions
            add_partitions(instance, definition, keys)
            first, last = partition_range(instance, definition, keys)
            tags["dagster/asset_partition_range_start"] = first
            tags["dagster/asset_partition_range_end"] = last
        job = _definitions(ctx, job_name).resolve_job_def(job_name)
        if preload:
            _preload_in_background(preload)
        run_id = make_new_run_id()
        with (
            log_file.open("a") as log,
            contextlib.redirect_stdout(log),
            RunProgress(instance, run_id, job_name, ctx.layout.bronze, files_to_ingest),
        ):
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=run_config,
                tags=tags,
                run_id=run_id,
                **kwargs,
            )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data:
                click.echo(
                    f"error in {event.step_key}: {_root_cause(event.step_failure_data.error)}",
                    err=True,
                )
    return result.success


def _say_waiting(ctx: Context):
    def say(holder: str) -> None:
        click.echo(
            f"waiting for another meterline command on {ctx.layout.home} ({holder})", err=True
        )

    return say


def _root_cause(error) -> str:
    """The first line of the innermost cause of a step's error (Dagster wraps what the step
    raised in its own errors; the cause is what the operator needs, e.g. a full disk)."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "unknown error"


def run_generate(ctx: Context, month: str, tenants: int, events: int, seed: int) -> None:
    config = {"month": month, "tenants": tenants, "events": events, "seed": seed}
    ok = execute(
        ctx,
        "generate_sample_month",
        run_config={"ops": {"write_sample_deliveries": {"config": config}}},
    )
    if not ok:
        sys.exit(EXIT_CHECK_FAILED)


def _preload_in_background(module: str) -> None:
    """Import a heavy module on a daemon thread, so the import overlaps the run's first steps.

    Great Expectations takes ~5 s to import and is first needed by the checks, after ingestion
    and dbt; those steps mostly wait on DuckDB and the dbt subprocess, which release the GIL.
    """
    threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def run_pipeline(
    ctx: Context,
    from_date: date | None,
    to_date: date | None,
    engine: str = "duckdb",
    full_refresh: bool = False,
) -> None:
    # held from before the pending deliveries are listed: a command that waited for another one
    # then sees what that one ingested, and does not claim to have ingested it again
    with home_lock(ctx.layout.home, on_wait=_say_waiting(ctx)):
        _run_pipeline_locked(ctx, from_date, to_date, engine, full_refresh)


def _nothing_to_build(ctx: Context) -> bool:
    """No new bronze, the same prices, and the last run published: the published marts stand
    (SPEC 9). The catalog's prices are written first (a Dagster run of their asset only, so the
    run shows in the UI): a changed price is something to build."""
    from orchestration.core.run_state import invoicing_blocked_reason
    from orchestration.defs.transform.build_batch import plan_build
    from orchestration.runner.checks_report import report_failed_checks

    if not execute(ctx, "meterline_prices"):
        report_failed_checks(ctx.layout)
        sys.exit(EXIT_CHECK_FAILED)
    return plan_build(ctx.layout).nothing_to_do and invoicing_blocked_reason(ctx.layout) is None


def _run_pipeline_locked(
    ctx: Context, from_date: date | None, to_date: date | None, engine: str, full_refresh: bool
) -> None:
    from orchestration.core.partitions import delivery_partitions
    from orchestration.defs.ingest.bronze import pending_raw_files
    from orchestration.defs.ingest.raw_files import list_delivery_dates
    from orchestration.defs.transform.build_batch import FULL_REFRESH_TAG
    from orchestration.defs.transform.spark_engine import ENGINE_TAG
    from orchestration.runner.checks_report import report_failed_checks

    layout = ctx.layout
    pending = pending_raw_files(layout.raw, layout.bronze)
    if from_date or to_date:
        days = [
            d
            for d in list_delivery_dates(layout.raw)
            if (from_date is None or d >= from_date) and (to_date is None or d <= to_date)
        ]
        if from_date and to_date and from_date > to_date:
            raise click.BadParameter("--from is after --to")
    else:
        days = sorted(pending)
    files_to_ingest = sum(len(pending.get(day, ())) for day in days)
    tags = {ENGINE_TAG: engine}
    if full_refresh:
        tags[FULL_REFRESH_TAG] = "true"
    if days:
        ok = execute(
            ctx,
            "meterline_run",
            preload=GX_RUNNER,
            files_to_ingest=files_to_ingest,
            partitions=(delivery_partitions, [d.isoformat() for d in days]),
            tags=tags,
        )
    elif not full_refresh and engine == "duckdb" and _nothing_to_build(ctx):
        click.echo("ingested deliveries: none new")
        click.echo("nothing to build since the last published build: published marts unchanged")
        click.echo(f"published marts: {layout.published / 'marts.duckdb'}")
        return
    else:
        ok = execute(ctx, "meterline_rebuild", preload=GX_RUNNER, tags=tags)
    if not ok:
        report_failed_checks(layout)
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(f"ingested deliveries: {', '.join(map(str, days)) or 'none new'}")
    click.echo(f"published marts: {layout.published / 'marts.duckdb'}")


def run_invoice(ctx: Context, month: str, now: str | None) -> None:
    from orchestration.core.partitions import billing_month_partitions
    from orchestration.core.run_state import invoicing_blocked_reason
    from orchestration.defs.invoicing.assets import parse_now

    try:
        parse_now(now)
    except ValueError as err:
        raise click.BadParameter(f"--now {now!r} is not an ISO-8601 time") from err
    with home_lock(ctx.layout.home, on_wait=_say_waiting(ctx)):
        # the invoices asset refuses too (runs from the UI or the schedule); refusing here first
        # keeps it to one line and no Dagster run
        blocked = invoicing_blocked_reason(ctx.layout)
        if blocked:
            click.echo(f"meterline invoice refused: {blocked}", err=True)
            sys.exit(EXIT_CHECK_FAILED)
        ok = execute(
            ctx,
            "meterline_invoice",
            # the margin's check (GX) runs last, on the new published version
            preload=GX_RUNNER,
            partitions=(billing_month_partitions, [month]),
            run_config={"ops": {"invoices": {"config": {"now": now}}}},
        )
    if not ok:
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(f"invoices: {ctx.layout.invoices / month}")
    click.echo(f"report:   {ctx.layout.home / 'reports' / f'{month}.html'}")
