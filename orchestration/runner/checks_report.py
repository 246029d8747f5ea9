"""What `meterline run` prints when a run failed: which rule, tenant, meter and day disagree."""

from __future__ import annotations

import click

from orchestration.core.run_state import checks_failed
from orchestration.core.settings import HomeLayout


def report_failed_checks(layout: HomeLayout) -> None:
    """Print every failed blocking check; nothing was published."""
    failures = checks_failed(layout) or []
    for failure in failures:
        click.echo(f"check failed: {failure['rule']}: {failure['summary']}", err=True)
    if failures:
        click.echo("nothing was published; invoices stay blocked until a run passes", err=True)
    else:
        click.echo("the run failed before publishing; the published marts are unchanged", err=True)
