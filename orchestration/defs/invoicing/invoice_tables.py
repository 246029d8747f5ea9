"""The tables invoicing adds to every published version (SPEC 7): `fct_invoice_lines`,
`fct_invoice_records` and `tenant_monthly_margin`, and the blocking check a version must pass
before it becomes current."""

from __future__ import annotations

from pathlib import Path

from orchestration.billing.invoice_lines import invoice_lines_query
from orchestration.billing.invoice_records import invoice_records_query
from orchestration.billing.margin import MARGIN_TABLE, margin_query
from orchestration.billing.state import LINES, state_dir

INVOICE_LINES_TABLE = "fct_invoice_lines"
INVOICE_RECORDS_TABLE = "fct_invoice_records"


class PublishedChecksFailedError(RuntimeError):
    """A blocking check refused a new published version: the previous one stays current."""


def invoice_tables(home: Path) -> dict[str, str]:
    """Table name -> query, in the order they must be created (the margin reads the records)."""
    return {
        INVOICE_LINES_TABLE: invoice_lines_query(state_dir(home, LINES)),
        INVOICE_RECORDS_TABLE: invoice_records_query(home),
        MARGIN_TABLE: margin_query(home / "invoices"),
    }


def invoice_tables_audit(home: Path):
    """The audit of a new version (`orchestration.defs.publish.publish.Audit`): the blocking rules on tables
    that only exist in the published marts (`PUBLISHED_RULES`), GX results under `home/gx/`."""

    def audit(marts: Path) -> None:
        from orchestration.defs.checks.reconciliation import PUBLISHED_RULES, run_rules

        failed = [o for o in run_rules(marts, home, PUBLISHED_RULES) if not o.passed]
        if failed:
            raise PublishedChecksFailedError("; ".join(o.summary for o in failed))

    return audit
