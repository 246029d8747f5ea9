"""`meterline pull [--name N]` (SPEC 2.7, 8): validate sources.yml, run the pull assets in Dagster."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import click

from orchestration.defs.pull.assets import PULL_JOB, pull_asset_key
from orchestration.defs.pull.postgres import PullError
from orchestration.defs.pull.sources import SourcesError, load_sources, sources_path

EXIT_PULL_FAILED = 1


def run_pull(ctx, name: str | None, execute: Callable[..., bool]) -> None:
    """Pull every source (or the one named); exit 2 for a bad sources.yml, 1 when a pull failed."""
    home = ctx.layout.home
    try:
        sources = load_sources(home)
    except SourcesError as err:
        # click's ClickException exits 2 in this CLI (bad input)
        raise click.ClickException(f"bad sources.yml: {err}") from None
    names = [source.name for source in sources]
    if name is not None and name not in names:
        raise click.BadParameter(
            f"no source {name!r} in {sources_path(home)} (known: {', '.join(names) or 'none'})",
            param_hint="--name",
        )
    if not sources:
        click.echo(f"no PostgreSQL sources in {sources_path(home)}: nothing to pull")
        return
    selected = [name] if name else names
    keys = [pull_asset_key(n) for n in selected]
    # Dagster's console logger prints each failure with its traceback: that goes to the log
    # file, and the user gets one line per failed source.
    log_file = ctx.layout.logs / f"{PULL_JOB}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as log, contextlib.redirect_stderr(log):
        ok = execute(ctx, PULL_JOB, asset_selection=keys)
    if not ok:
        for line in _failures():
            click.echo(line, err=True)
        sys.exit(EXIT_PULL_FAILED)
    _report(keys)


def _failures() -> list[str]:
    """The root cause of each failed step of the latest pull run, one line each."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=PULL_JOB), limit=1)
    if not runs:
        return ["meterline pull failed (see the Dagster UI)"]
    lines = []
    for record in instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.error
        while error.cause is not None:
            error = error.cause
        message = error.message.strip().splitlines()[0] if error.message.strip() else ""
        # "module.PullError: pull x: reason" -> "pull x: reason"; other errors keep their class
        lines.append(message.removeprefix(f"{PullError.__module__}.{PullError.__name__}: "))
    return lines or ["meterline pull failed (see the Dagster UI)"]


def _report(keys) -> None:
    """One line per source from its latest materialization: rows and the raw file written."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    for key in keys:
        event = instance.get_latest_materialization_event(key)
        metadata = event.asset_materialization.metadata if event else {}
        rows = metadata["rows"].value if "rows" in metadata else "?"
        file = metadata["raw_file"].value if "raw_file" in metadata else "none"
        click.echo(f"{key.to_user_string()}: {rows} rows -> {file}")
        skipped = metadata["rows_without_cursor"].value if "rows_without_cursor" in metadata else 0
        if skipped:
            click.echo(
                f"{key.to_user_string()}: warning: {skipped} rows have a NULL or infinite "
                "cursor value and are not pulled",
                err=True,
            )
