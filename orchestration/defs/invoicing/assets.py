"""Invoices: the published usage of a billing month, rated against the catalog (SPEC 4-6)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from orchestration.billing.invoice_lines import write_invoice_lines
from orchestration.billing.invoice_records import record_invoice_records, records_problems
from orchestration.billing.lifecycle import issue_month, money_check
from orchestration.billing.month_report import write_month_report
from orchestration.billing.rating import money_text
from orchestration.billing.state import LINES, state_dir
from orchestration.core.partitions import billing_month_partitions
from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import invoicing_blocked_reason
from orchestration.defs.invoicing.invoice_tables import invoice_tables, invoice_tables_audit
from orchestration.defs.publish.assets import log_table_materializations
from orchestration.defs.publish.publish import republish_tables


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
        tenant = invoice.tenant_id
        problems += [f"{tenant}: {problem}" for problem in money_check(invoice)]
        if result.status == "already_final":
            continue  # written by an earlier run; later usage is billed as adjustments
        billed = dict(invoice.usage)
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
        ),
        dg.AssetCheckSpec(
            "invoice_records_add_up",
            asset="invoices",
            description="The records of every usage and adjustment line (fct_invoice_records) "
            "add up exactly to the line's quantity.",
        ),
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
    marts = (layout.published / "marts.duckdb").resolve()
    monthly_usage = read_monthly_usage(marts)
    catalog = meterline.load_catalog()

    def record_invoices(invoices, final):
        record_invoice_records(layout.home, month, invoices, final, marts)

    result = issue_month(
        layout.home,
        month,
        parse_now(config.now),
        catalog,
        monthly_usage,
        record_invoices if marts.exists() else None,
    )
    problems = invoice_problems(result, monthly_usage)
    record_problems = (
        records_problems(layout.home, month, result.invoices) if marts.exists() else []
    )
    write_invoice_lines(state_dir(layout.home, LINES), month, result.lines)
    report = write_month_report(layout.home, month, result, catalog, marts)
    # invoicing a month changes the invoice tables in that month only: the rest stays linked
    tables = invoice_tables(layout.home)
    invoiced = date.fromisoformat(f"{month}-01")
    counts = republish_tables(
        layout.published,
        tables,
        audit=invoice_tables_audit(layout.home),
        changed_months={table: [invoiced] for table in tables},
    )
    log_table_materializations(context, counts)
    yield dg.AssetCheckResult(
        check_name="invoices_match_usage_and_lines",
        passed=not problems,
        metadata={"problems": _problems_markdown(problems)},
    )
    yield dg.AssetCheckResult(
        check_name="invoice_records_add_up",
        passed=not record_problems,
        metadata={"problems": _problems_markdown(record_problems)},
    )
    yield dg.MaterializeResult(metadata=invoice_metadata(result, report))


def _problems_markdown(problems: list[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")


def invoice_metadata(result, report) -> dict:
    """What the Dagster UI shows for a month: invoices by status, total billed, the ten largest
    invoices, and numbers Dagster plots across partitions (total billed, invoices, unbilled
    tenants), with a link to the month's report."""
    invoices = result.invoices
    by_status: dict[str, int] = {}
    for invoice in invoices:
        by_status[invoice.status] = by_status.get(invoice.status, 0) + 1
    total = sum((i.total for i in invoices), Decimal(0))
    largest = sorted(invoices, key=lambda i: (-i.total, i.tenant_id))[:10]
    table = ["| invoice | tenant | plan | status | total |", "| --- | --- | --- | --- | ---: |"]
    table += [
        f"| {i.invoice_number or '(draft)'} | {_cell(i.tenant_id)} | {_cell(i.plan)} "
        f"| {i.status} | {money_text(i.total)} |"
        for i in largest
    ]
    return {
        "status": result.status,
        "invoices": dg.MetadataValue.int(len(invoices)),
        "total_billed": dg.MetadataValue.float(float(total)),
        "total_billed_text": f"{total:.2f} {invoices[0].currency if invoices else ''}".strip(),
        "unbilled_tenants": dg.MetadataValue.int(len({r["tenant_id"] for r in result.unbilled})),
        "invoices_by_status": dg.MetadataValue.md(
            "\n".join(f"- {status}: {n}" for status, n in sorted(by_status.items())) or "none"
        ),
        "largest_invoices": dg.MetadataValue.md("\n".join(table)),
        "folder": dg.MetadataValue.path(str(result.folder)),
        "report": dg.MetadataValue.url(report.as_uri()),
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
