"""Invoices: the published usage of a billing month, rated against the catalog (SPEC 4-6)."""

from datetime import UTC, datetime
from decimal import Decimal

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from orchestration.billing.invoice_lines import invoice_lines_query, write_invoice_lines
from orchestration.billing.lifecycle import issue_month, money_check
from orchestration.partitions import billing_month_partitions
from orchestration.publish import republish_table
from orchestration.resources import MeterlineResource
from orchestration.run_state import invoicing_blocked_reason


class InvoiceRunConfig(dg.Config):
    """`now` (ISO-8601, UTC when no zone) decides draft vs final; default the real clock."""

    now: str | None = None


class ChecksFailedError(RuntimeError):
    """The last pipeline run failed a blocking check or did not complete and publish: no
    invoice may be written."""


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


def invoice_problems(result, monthly_usage: dict) -> list[str]:
    """Invoices whose total is not the sum of their lines, or whose usage is not the month's
    usage in `tenant_monthly_usage` (checked for invoices written by this run)."""
    problems = []
    for invoice in result.invoices:
        tenant = invoice["tenant_id"]
        problems += [f"{tenant}: {problem}" for problem in money_check(invoice)]
        if result.status == "already_final":
            continue  # written by an earlier run; later usage is billed as adjustments
        billed = {meter: Decimal(q) for meter, q in invoice["usage"].items()}
        expected = {m: q for m, q in monthly_usage.get((tenant, result.month), {}).items() if q}
        if {m: q for m, q in billed.items() if q} != expected:
            problems.append(f"{tenant}: invoice usage {billed} != tenant_monthly_usage {expected}")
    return problems


@dg.asset(
    deps=["published_marts"],
    partitions_def=billing_month_partitions,
    group_name="invoices",
    kinds={"json", "csv", "pdf"},
    check_specs=[
        dg.AssetCheckSpec(
            "invoices_match_usage_and_lines",
            asset="invoices",
            description="Each invoice's usage equals tenant_monthly_usage and its total equals "
            "the sum of its lines.",
        )
    ],
)
def invoices(
    context: AssetExecutionContext, config: InvoiceRunConfig, meterline: MeterlineResource
):
    """The month's invoices: drafts until period end + grace, then final and never rewritten."""
    layout = meterline.layout
    blocked = invoicing_blocked_reason(layout)
    if blocked:
        raise ChecksFailedError(blocked)
    month = context.partition_key[:7]
    monthly_usage = read_monthly_usage(layout.published / "marts.duckdb")
    result = issue_month(
        layout.home, month, parse_now(config.now), meterline.load_catalog(), monthly_usage
    )
    problems = invoice_problems(result, monthly_usage)
    write_invoice_lines(layout.invoices, month, result.lines)
    republish_table(layout.published, "fct_invoice_lines", invoice_lines_query(layout.invoices))
    yield dg.AssetCheckResult(
        check_name="invoices_match_usage_and_lines",
        passed=not problems,
        metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")},
    )
    yield dg.MaterializeResult(
        metadata={
            "status": result.status,
            "invoices": len(result.invoices),
            "folder": dg.MetadataValue.path(str(layout.invoices / month)),
        }
    )
