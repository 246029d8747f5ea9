"""Invoices: the published usage of a billing month, rated against the catalog (SPEC 4-6)."""

from datetime import UTC, datetime

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from orchestration.partitions import billing_month_partitions
from orchestration.resources import MeterlineResource
from orchestration.run_state import checks_failed


class InvoiceRunConfig(dg.Config):
    """`now` (ISO-8601, UTC when no zone) decides draft vs final; default the real clock."""

    now: str | None = None


class ChecksFailedError(RuntimeError):
    """The latest pipeline run failed a blocking check: no invoice may be written."""


def parse_now(now: str | None) -> datetime:
    """The `--now` instant as an aware UTC datetime (a value without zone is UTC)."""
    if not now:
        return datetime.now(UTC)
    value = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_monthly_usage(published_db) -> dict:
    """(tenant_id, 'YYYY-MM') -> {meter: exact quantity} from the published monthly mart."""
    if not published_db.exists():
        return {}
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        rows = con.execute(
            "SELECT tenant_id, strftime(usage_month, '%Y-%m'), meter, quantity "
            "FROM tenant_monthly_usage"
        ).fetchall()
    finally:
        con.close()
    usage: dict = {}
    for tenant, month, meter, quantity in rows:
        usage.setdefault((tenant, month), {})[meter] = quantity
    return usage


@dg.asset(
    deps=["published_marts"],
    partitions_def=billing_month_partitions,
    group_name="invoices",
    kinds={"json", "csv", "pdf"},
)
def invoices(
    context: AssetExecutionContext, config: InvoiceRunConfig, meterline: MeterlineResource
) -> dg.MaterializeResult:
    """The month's invoices: drafts until period end + grace, then final and never rewritten."""
    from orchestration.billing.lifecycle import issue_month

    layout = meterline.layout
    failures = checks_failed(layout)
    if failures:
        names = ", ".join(f["rule"] for f in failures)
        raise ChecksFailedError(
            f"the latest pipeline run failed blocking checks ({names}); no invoice is written "
            "until `meterline run` passes every check"
        )
    month = context.partition_key[:7]
    result = issue_month(
        layout.home,
        month,
        parse_now(config.now),
        meterline.load_catalog(),
        read_monthly_usage(layout.published / "marts.duckdb"),
    )
    return dg.MaterializeResult(
        metadata={
            "status": result.status,
            "invoices": len(result.invoices),
            "folder": dg.MetadataValue.path(str(layout.invoices / month)),
        }
    )
