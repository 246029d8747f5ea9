"""Publish: the validated marts, copied atomically to where analysts read them (SPEC 7)."""

import dagster as dg

from orchestration.billing.invoice_tables import (
    PublishedChecksFailedError,
    invoice_tables,
    invoice_tables_audit,
)
from orchestration.build_batch import changed_months, commit_build
from orchestration.checks.reconciliation import touched_days
from orchestration.publish import PUBLISHED_TABLES, publish_marts
from orchestration.resources import MeterlineResource
from orchestration.run_state import clear_checks_failed, mark_checks_failed, mark_run_published


@dg.asset(
    deps=list(PUBLISHED_TABLES),
    group_name="publish",
    kinds={"duckdb", "parquet"},
    pool="duckdb_writer",
)
def published_marts(
    context: dg.AssetExecutionContext, meterline: MeterlineResource
) -> dg.MaterializeResult:
    """published/marts.duckdb and published/parquet/<table>.parquet/ (month files), only after
    every check passed."""
    layout = meterline.layout
    # an incremental build rewrites the months it touched; the other month files are linked
    changed = changed_months(layout, touched_days(layout.warehouse))
    context.log.info(
        "publishing every month"
        if changed is None
        else f"publishing {len(changed['fct_usage_records'])} changed months, linking the rest"
    )
    try:
        counts = publish_marts(
            layout.warehouse,
            layout.published,
            invoice_tables(layout.home),
            audit=invoice_tables_audit(layout.home),
            changed_months=changed,
        )
    except PublishedChecksFailedError as err:
        mark_checks_failed(layout, [{"rule": "published_invoice_tables", "summary": str(err)}])
        raise
    clear_checks_failed(layout)
    commit_build(layout)
    mark_run_published(layout, context.run.run_id)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.published / "marts.duckdb")),
            "parquet": dg.MetadataValue.path(str(layout.published / "parquet")),
            **{f"rows/{table}": n for table, n in counts.items()},
        }
    )
