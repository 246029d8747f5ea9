"""The tables invoicing adds to every published version (SPEC 7): `fct_invoice_lines`,
`fct_invoice_records` and `tenant_monthly_margin`, and the blocking check a version must pass
before it becomes current.

Each is an asset of its own in the graph (group `invoices`); it is written into a published
version by `published_marts` (every run: the margin follows late usage) and by `invoices` (every
invoicing), which record a materialization of it with its row count.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from orchestration.billing.invoice_lines import invoice_lines_query
from orchestration.billing.invoice_records import invoice_records_query
from orchestration.billing.margin import MARGIN_TABLE, margin_query
from orchestration.billing.state import LINES, state_dir
from orchestration.defs.publish.assets import PublishedExtras
from orchestration.defs.publish.publish import Audit, AuditRefusedError

INVOICE_LINES_TABLE = "fct_invoice_lines"
INVOICE_RECORDS_TABLE = "fct_invoice_records"


# the blocking check `meterline run` names when a new version's invoice tables fail their rules
AUDIT_RULE = "published_invoice_tables"

INVOICE_TABLE_SPECS = [
    dg.AssetSpec(
        INVOICE_LINES_TABLE,
        deps=["invoices"],
        description="Every rated invoice line of every invoiced month (drafts until final).",
        group_name="invoices",
        kinds={"duckdb", "parquet"},
    ),
    dg.AssetSpec(
        INVOICE_RECORDS_TABLE,
        deps=["invoices", "published_marts"],
        description="Which usage records each usage and adjustment line billed, with lineage.",
        group_name="invoices",
        kinds={"duckdb", "parquet"},
    ),
    dg.AssetSpec(
        MARGIN_TABLE,
        deps=["invoices", INVOICE_RECORDS_TABLE],
        description="Per invoiced month and tenant: billed total against provider cost.",
        group_name="invoices",
        kinds={"duckdb", "parquet"},
    ),
]


def invoice_tables(home: Path) -> dict[str, str]:
    """Table name -> query, in the order they must be created (the margin reads the records)."""
    return {
        INVOICE_LINES_TABLE: invoice_lines_query(state_dir(home, LINES)),
        INVOICE_RECORDS_TABLE: invoice_records_query(home),
        MARGIN_TABLE: margin_query(home / "invoices"),
    }


def invoice_tables_audit(home: Path):
    """The audit of a new version (`orchestration.defs.publish.publish.Audit`): the blocking
    rules on tables that only exist in the published marts (`PUBLISHED_RULES`), GX results under
    `home/gx/`."""

    def audit(marts: Path) -> None:
        from orchestration.defs.checks.reconciliation import PUBLISHED_RULES, run_rules

        failed = [o for o in run_rules(marts, home, PUBLISHED_RULES) if not o.passed]
        if failed:
            raise AuditRefusedError(AUDIT_RULE, "; ".join(o.summary for o in failed))

    return audit


class InvoiceTables(PublishedExtras):
    """The invoice tables and their audit, for every version `published_marts` publishes."""

    def tables(self, home: Path) -> Mapping[str, str]:
        return invoice_tables(home)

    def audit(self, home: Path) -> Audit | None:
        return invoice_tables_audit(home)
