"""Publish: the validated marts, copied atomically to where analysts read them (SPEC 7)."""

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import clear_checks_failed, mark_checks_failed, mark_run_published
from orchestration.defs.checks.reconciliation import touched_days
from orchestration.defs.publish.publish import (
    PUBLISHED_TABLES,
    Audit,
    AuditRefusedError,
    publish_marts,
)
from orchestration.defs.transform.build_batch import changed_months, commit_build


class PublishedExtras(dg.ConfigurableResource):
    """Tables a later step adds to every published version, and the audit a version must pass.

    Publish knows nothing of them: `orchestration.definitions` binds the invoicing step's
    subclass here (the invoice tables), so dependencies point one way along the flow.
    """

    def tables(self, home: Path) -> Mapping[str, str]:  # noqa: ARG002 - overridden
        """Table name -> query over the new version, in creation order."""
        return {}

    def audit(self, home: Path) -> Audit | None:  # noqa: ARG002 - overridden
        return None


@dg.asset(
    deps=list(PUBLISHED_TABLES),
    group_name="publish",
    kinds={"duckdb", "parquet"},
    pool="duckdb_writer",
)
def published_marts(
    context: dg.AssetExecutionContext,
    meterline: MeterlineResource,
    published_extras: PublishedExtras,
) -> dg.MaterializeResult:
    """published/marts.duckdb and published/parquet/<table>.parquet/ (month files), only after
    every check passed."""
    layout = meterline.layout
    extras = published_extras.tables(layout.home)
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
            extras,
            audit=published_extras.audit(layout.home),
            changed_months=changed,
        )
    except AuditRefusedError as err:
        mark_checks_failed(layout, [{"rule": err.rule, "summary": str(err)}])
        raise
    clear_checks_failed(layout)
    commit_build(layout)
    mark_run_published(layout, context.run.run_id)
    log_table_materializations(context, {table: counts[table] for table in extras})
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.published / "marts.duckdb")),
            "parquet": dg.MetadataValue.path(str(layout.published / "parquet")),
            **{f"rows/{table}": n for table, n in counts.items()},
        }
    )


def log_table_materializations(context, counts: Mapping[str, int]) -> None:
    """A materialization, with its row count, of each table written into a new published
    version by a later step (the tables are assets of their own, e.g. `fct_invoice_lines`)."""
    for table, rows in counts.items():
        context.log_event(dg.AssetMaterialization(table, metadata={"rows": rows}))
