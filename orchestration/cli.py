"""`meterline`: generate, run, invoice, explain, simulate, demo (SPEC 8). Every command executes Dagster jobs, so
its runs appear in the Dagster UI when DAGSTER_HOME is shared."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
import threading
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orchestration.run_lock import PID_TAG, home_lock, recover_dead_runs
from orchestration.settings import HomeLayout, resolve_home

if TYPE_CHECKING:
    from dagster import DynamicPartitionsDefinition

GX_RUNNER = "orchestration.checks.gx_runner"
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class Context:
    """What every subcommand shares: the home folder and the catalog."""

    def __init__(self, home: str | None, catalog: str | None):
        self.layout = HomeLayout(resolve_home(home))
        self.catalog = Path(catalog).resolve() if catalog else None

    def validate_catalog(self):
        """Load the catalog or exit 2 with the message that names the bad field."""
        from orchestration.billing.catalog import CatalogError, load_catalog

        try:
            return load_catalog(self.catalog, self.layout.home)
        except CatalogError as err:
            raise click.ClickException(f"bad catalog: {err}") from err
        except FileNotFoundError as err:
            raise click.ClickException(f"catalog not found: {err.filename}") from err


# With the spark extra installed, Great Expectations imports pyspark, which warns on every run
# that it does not fully support pandas 3 (Meterline never hands pandas data to pyspark).
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

# click exits 1 on ClickException by default; SPEC 8 wants 2 for bad arguments and catalogs.
click.ClickException.exit_code = EXIT_BAD_INPUT


def common_options(fn):
    fn = click.option(
        "--catalog",
        "catalog",
        type=click.Path(dir_okay=False),
        default=None,
        help="catalog.yml (default: $METERLINE_HOME/catalog.yml, else the shipped catalog).",
    )(fn)
    return click.option(
        "--home",
        "home",
        type=click.Path(file_okay=False),
        default=None,
        help="METERLINE_HOME (default: $METERLINE_HOME, else ./data).",
    )(fn)


def _month(value: str) -> str:
    try:
        date.fromisoformat(value + "-01")
    except ValueError as err:
        raise click.BadParameter(f"{value!r} is not a month YYYY-MM") from err
    return value


# Failures of the machine rather than of Meterline: reported in one line naming the cause.
_ENVIRONMENT_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def environment_error(error: BaseException) -> str | None:
    """One line for a full disk, a read-only folder or a missing permission anywhere in the
    chain of causes of `error` (sqlite and Dagster wrap them); None for anything else."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ERRORS:
            where = f": {error.filename}" if error.filename else ""
            return f"{_ENVIRONMENT_ERRORS[error.errno]}{where}"
        text = str(error).lower()
        if "database or disk is full" in text:
            return "no space left on the device (the Dagster run storage could not be written)"
        if "readonly database" in text or "read-only file system" in text:
            return "the folder is on a read-only file system (the Dagster run storage)"
        error = error.__cause__ or error.__context__
    return None


class MeterlineGroup(click.Group):
    """Turns a full disk or a read-only folder into one line and exit 1, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:
            cause = environment_error(error)
            if cause is None:
                raise
            click.echo(f"meterline: {cause}", err=True)
            sys.exit(EXIT_CHECK_FAILED)


@click.group(cls=MeterlineGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Meterline: raw usage -> bronze -> dbt marts -> checks -> published marts -> invoices."""


@main.command()
@click.option("--month", required=True, callback=lambda c, p, v: _month(v), help="YYYY-MM")
@click.option("--tenants", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--events", default=20000, show_default=True, type=click.IntRange(min=1000))
@click.option("--seed", default=7, show_default=True, type=int)
@common_options
def generate(month, tenants, events, seed, home, catalog):
    """Write a realistic sample month of raw deliveries (all four sources, traps mixed in)."""
    ctx = Context(home, catalog)
    _run_generate(ctx, month, tenants, events, seed)
    click.echo(f"raw deliveries written under {ctx.layout.raw}")


@main.command()
@click.option("--from", "from_date", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "to_date", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where dbt builds the models (spark: a local Spark session, docs/scale-out.md).",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild every model from all of bronze (the result equals the incremental one).",
)
@common_options
def run(from_date, to_date, engine, full_refresh, home, catalog):
    """Ingest new deliveries (or re-run --from/--to), build marts, check, publish."""
    ctx = Context(home, catalog)
    ctx.validate_catalog()
    if engine == "spark" and not _spark_installed():
        raise click.ClickException(
            "--engine spark needs the spark extra: uv sync --extra spark "
            "(or pip install 'meterline[spark]'), and a Java 17 runtime"
        )
    _run_pipeline(
        ctx,
        from_date.date() if from_date else None,
        to_date.date() if to_date else None,
        engine,
        full_refresh,
    )


def _spark_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("pyspark") is not None and find_spec("dbt.adapters.spark") is not None


@main.command()
@click.option("--month", required=True, callback=lambda c, p, v: _month(v), help="YYYY-MM")
@click.option("--now", default=None, help="The clock (ISO-8601, UTC); default: the real clock.")
@common_options
def invoice(month, now, home, catalog):
    """Rate a billing month and write its invoices (drafts until period end + grace)."""
    ctx = Context(home, catalog)
    ctx.validate_catalog()
    _run_invoice(ctx, month, now)


@main.command()
@click.option("--month", required=True, callback=lambda c, p, v: _month(v), help="YYYY-MM")
@click.option("--tenant", required=True, help="tenant_id of the invoice to explain")
@click.option("--meter", default=None, help="Only the lines of this meter.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write one row per record to this CSV file.",
)
@common_options
def explain(month, tenant, meter, csv_file, home, catalog):
    """The records and raw files behind each usage and adjustment line of one invoice."""
    from orchestration.billing.explain import NoSuchInvoiceError, explain_invoice

    ctx = Context(home, catalog)
    try:
        explanation = explain_invoice(
            ctx.layout.home, month, tenant, meter, Path(csv_file) if csv_file else None
        )
    except NoSuchInvoiceError as err:
        raise click.ClickException(str(err)) from err
    except OSError as err:
        raise click.ClickException(f"cannot write {csv_file}: {err.strerror}") from err
    click.echo(explanation.text)
    if csv_file:
        click.echo(f"records: {csv_file}")


@main.command()
@click.option("--month", required=True, callback=lambda c, p, v: _month(v), help="YYYY-MM")
@click.option(
    "--with",
    "other",
    required=True,
    type=click.Path(dir_okay=False),
    help="The other catalog (OTHER.yml) to price the month with.",
)
@click.option("--now", default=None, help="The clock (ISO-8601, UTC); default: the real clock.")
@common_options
def simulate(month, other, now, home, catalog):
    """Price a month under another catalog: simulations/YYYY-MM/<OTHER stem>/ with diff.csv."""
    from orchestration.assets.invoices import parse_now
    from orchestration.billing.catalog import CatalogError, load_catalog

    ctx = Context(home, catalog)
    ctx.validate_catalog()
    other_path = Path(other).resolve()
    try:
        load_catalog(other_path, ctx.layout.home)
    except CatalogError as err:
        raise click.ClickException(f"bad catalog --with: {err}") from err
    except OSError as err:
        raise click.ClickException(f"cannot read --with {other}: {err.strerror}") from err
    try:
        parse_now(now)
    except ValueError as err:
        raise click.BadParameter(f"--now {now!r} is not an ISO-8601 time") from err
    config = {"month": month, "other": str(other_path), "now": now}
    ok = _execute(
        ctx, "simulate_month_job", run_config={"ops": {"write_simulation": {"config": config}}}
    )
    if not ok:
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(f"simulation: {ctx.layout.home / 'simulations' / month / other_path.stem}")


@main.command()
@common_options
def demo(home, catalog):
    """Generate a sample month, run everything, finalize its invoices, then bill late usage."""
    ctx = Context(home, catalog)
    catalog_obj = ctx.validate_catalog()
    grace = catalog_obj.grace_period_days
    month = "2026-10"
    next_month = "2026-11"
    _run_generate(ctx, month, tenants=6, events=30000, seed=7)
    # Deliveries up to the end of October's grace period, then finalize October.
    close = date(2026, 11, 1) + timedelta(days=grace)
    _run_pipeline(ctx, None, close - timedelta(days=1))
    _run_invoice(ctx, month, f"{close.isoformat()}T00:00:00Z")
    # November arrives with October's late usage: billed as adjustments on November's invoices.
    _run_generate(ctx, next_month, tenants=6, events=30000, seed=8)
    _run_pipeline(ctx, None, None)
    _run_invoice(
        ctx, next_month, f"{(date(2026, 12, 1) + timedelta(days=grace)).isoformat()}T00:00:00Z"
    )
    layout = ctx.layout
    click.echo("")
    click.echo(f"invoices:        {layout.invoices / month}  and  {layout.invoices / next_month}")
    click.echo(f"published marts: {layout.published / 'marts.duckdb'}")
    click.echo(f"parquet marts:   {layout.published / 'parquet'}")
    click.echo("Dagster UI:      make dev   (runs above are in the same DAGSTER_HOME)")


@main.command()
@click.option("--name", default=None, help="Pull only this source of sources.yml.")
@common_options
def pull(name, home, catalog):
    """Pull new rows from the PostgreSQL sources of sources.yml into raw files (SPEC 2.7)."""
    from orchestration.pull.command import run_pull

    run_pull(Context(home, catalog), name, _execute)


# --- running Dagster jobs -------------------------------------------------------------------


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


def _definitions(ctx: Context):
    from orchestration.definitions import build_definitions

    return build_definitions(ctx.layout.home, ctx.catalog)


def _execute(
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

    from orchestration.partitions import add_partitions, partition_range
    from orchestration.run_progress import RunProgress

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
        job = _definitions(ctx).resolve_job_def(job_name)
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


def _run_generate(ctx: Context, month: str, tenants: int, events: int, seed: int) -> None:
    config = {"month": month, "tenants": tenants, "events": events, "seed": seed}
    ok = _execute(
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


def _run_pipeline(
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
    """No new bronze, same prices, and the last run published: the published marts stand (SPEC 9).

    The catalog's prices are written first (a Dagster run of their asset): a changed price is
    something to build."""
    from orchestration.build_batch import plan_build
    from orchestration.checks_report import report_failed_checks
    from orchestration.run_state import invoicing_blocked_reason

    if not _execute(ctx, "meterline_prices"):
        report_failed_checks(ctx.layout)
        sys.exit(EXIT_CHECK_FAILED)
    return plan_build(ctx.layout).nothing_to_do and invoicing_blocked_reason(ctx.layout) is None


def _run_pipeline_locked(
    ctx: Context, from_date: date | None, to_date: date | None, engine: str, full_refresh: bool
) -> None:
    from orchestration.build_batch import FULL_REFRESH_TAG
    from orchestration.checks_report import report_failed_checks
    from orchestration.ingest.bronze import pending_raw_files
    from orchestration.ingest.raw_files import list_delivery_dates
    from orchestration.partitions import delivery_partitions

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
    tags = {"meterline/engine": engine}  # spark_engine.ENGINE_TAG, read by the dbt step
    if full_refresh:
        tags[FULL_REFRESH_TAG] = "true"
    if days:
        ok = _execute(
            ctx,
            "meterline_run",
            preload=GX_RUNNER,
            files_to_ingest=files_to_ingest,
            partitions=(delivery_partitions, [d.isoformat() for d in days]),
            tags=tags,
        )
    elif not full_refresh and engine == "duckdb" and _nothing_to_build(ctx):
        click.echo("nothing new since the last published build: published marts unchanged")
        click.echo(f"published marts: {layout.published / 'marts.duckdb'}")
        return
    else:
        ok = _execute(ctx, "meterline_rebuild", preload=GX_RUNNER, tags=tags)
    if not ok:
        report_failed_checks(layout)
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(f"ingested deliveries: {', '.join(map(str, days)) or 'none new'}")
    click.echo(f"published marts: {layout.published / 'marts.duckdb'}")


def _run_invoice(ctx: Context, month: str, now: str | None) -> None:
    from orchestration.assets.invoices import parse_now
    from orchestration.partitions import billing_month_partitions
    from orchestration.run_state import invoicing_blocked_reason

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
        ok = _execute(
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


if __name__ == "__main__":
    main()
