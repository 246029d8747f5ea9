"""`meterline simulate` as a Dagster job, so simulations show up as runs in the UI too. It reads
the published marts and writes only under `simulations/` (no asset is materialized)."""

from pathlib import Path

import dagster as dg

from orchestration.core.resources import MeterlineResource


class SimulateConfig(dg.Config):
    """Arguments of `meterline simulate` (SPEC 8); `other` is the path of OTHER.yml."""

    month: str
    other: str
    now: str | None = None


@dg.op
def write_simulation(context, config: SimulateConfig, meterline: MeterlineResource) -> None:
    """Price the month under the current catalog and OTHER; write the invoices and diff.csv."""
    from orchestration.billing.catalog import load_catalog
    from orchestration.billing.simulate import simulate_month
    from orchestration.defs.invoicing.assets import parse_now, read_monthly_usage

    layout = meterline.layout
    other = Path(config.other)
    folder = simulate_month(
        layout.home,
        config.month,
        parse_now(config.now),
        meterline.load_catalog(),
        load_catalog(other, layout.home),
        other.stem,
        read_monthly_usage(layout.published / "marts.duckdb"),
    )
    context.log.info(f"simulation written to {folder}")


@dg.job(description="Price a month under another catalog (meterline simulate).")
def simulate_month_job():
    write_simulation()
