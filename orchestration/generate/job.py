"""`meterline generate` as a Dagster job, so sample deliveries show up as runs in the UI too."""

import dagster as dg

from orchestration.core.resources import MeterlineResource


class GenerateConfig(dg.Config):
    """Arguments of `meterline generate` (SPEC 8)."""

    month: str
    tenants: int = 5
    events: int = 20000
    seed: int = 7


@dg.op
def write_sample_deliveries(context, config: GenerateConfig, meterline: MeterlineResource) -> None:
    """Write a realistic month of raw deliveries, traps included, into the landing zone."""
    from orchestration.generate import generate_month

    summary = generate_month(
        meterline.layout.home, config.month, config.tenants, config.events, config.seed
    )
    context.log.info(f"generated {summary}")


@dg.job(description="Write a sample month of raw deliveries (meterline generate).")
def generate_sample_month():
    write_sample_deliveries()
