"""What `meterline run` prints when a blocking check failed: which rule, tenant, meter and day."""

from __future__ import annotations

import click

from orchestration.run_state import checks_failed
from orchestration.settings import HomeLayout


def report_failed_checks(layout: HomeLayout) -> None:
    """Print every failed blocking check; nothing was published and no invoice is written."""
    failures = checks_failed(layout) or []
    for failure in failures:
        click.echo(f"check failed: {failure['rule']}: {failure['summary']}", err=True)
    click.echo("nothing was published; invoices stay blocked until a run passes", err=True)
