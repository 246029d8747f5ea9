"""`meterline`: generate, run, invoice, explain, simulate, demo, pull (SPEC 8): argument parsing
and validation. Every command executes Dagster jobs through `orchestration.runner.execute`, so its
runs appear in the Dagster UI when DAGSTER_HOME is shared."""

from __future__ import annotations

import errno
import sys
import warnings
from datetime import date, timedelta
from pathlib import Path

import click

from orchestration.core.settings import HomeLayout, resolve_home
from orchestration.runner.execute import (
    EXIT_CHECK_FAILED,
    execute,
    run_generate,
    run_invoice,
    run_pipeline,
)

EXIT_BAD_INPUT = 2

# With the spark extra installed, Great Expectations imports pyspark, which warns on every run
# that it does not fully support pandas 3 (Meterline never hands pandas data to pyspark).
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)


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
    run_generate(ctx, month, tenants, events, seed)
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
    run_pipeline(
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
    run_invoice(ctx, month, now)


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
    from orchestration.billing.catalog import CatalogError, load_catalog
    from orchestration.defs.invoicing.assets import parse_now

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
    ok = execute(
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
    run_generate(ctx, month, tenants=6, events=30000, seed=7)
    # Deliveries up to the end of October's grace period, then finalize October.
    close = date(2026, 11, 1) + timedelta(days=grace)
    run_pipeline(ctx, None, close - timedelta(days=1))
    run_invoice(ctx, month, f"{close.isoformat()}T00:00:00Z")
    # November arrives with October's late usage: billed as adjustments on November's invoices.
    run_generate(ctx, next_month, tenants=6, events=30000, seed=8)
    run_pipeline(ctx, None, None)
    run_invoice(
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
    from orchestration.defs.pull.command import run_pull

    run_pull(Context(home, catalog), name, execute)


if __name__ == "__main__":
    main()
