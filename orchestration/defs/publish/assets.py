"""Publish: the validated marts, copied atomically to where analysts read them (SPEC 7)."""

import dagster as dg

from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import clear_checks_failed, mark_checks_failed, mark_run_published
from orchestration.defs.invoicing.invoice_tables import (
    PublishedChecksFailedError,
    invoice_tables,
    invoice_tables_audit,
)
from orchestration.defs.publish.publish import PUBLISHED_TABLES, publish_marts


@dg.asset(
    deps=list(PUBLISHED_TABLES),
    group_name="publish",
    kinds={"duckdb", "parquet"},
    pool="duckdb_writer",
)
def published_marts(
    context: dg.AssetExecutionContext, meterline: MeterlineResource
) -> dg.MaterializeResult:
    """published/marts.duckdb and published/parquet/<table>.parquet, only after every check passed."""
    layout = meterline.layout
    try:
        counts = publish_marts(
            layout.warehouse,
            layout.published,
            invoice_tables(layout.home),
            audit=invoice_tables_audit(layout.home),
        )
    except PublishedChecksFailedError as err:
        mark_checks_failed(layout, [{"rule": "published_invoice_tables", "summary": str(err)}])
        raise
    clear_checks_failed(layout)
    mark_run_published(layout, context.run.run_id)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.published / "marts.duckdb")),
            "parquet": dg.MetadataValue.path(str(layout.published / "parquet")),
            **{f"rows/{table}": n for table, n in counts.items()},
        }
    )
