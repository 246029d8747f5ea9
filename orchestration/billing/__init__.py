"""Billing: price catalog, rating (SPEC §3-4) and the invoice lifecycle and files (SPEC §5-6).

Pure Python, no Dagster: the Dagster invoice asset calls `load_catalog` and `issue_month`.
"""

from orchestration.billing.catalog import Catalog, CatalogError, load_catalog, parse_catalog
from orchestration.billing.invoice import Invoice, Line
from orchestration.billing.lifecycle import IssueResult, issue_month, money_check
from orchestration.billing.rating import rate_invoice, round_money

__all__ = [
    "Catalog",
    "CatalogError",
    "Invoice",
    "IssueResult",
    "Line",
    "issue_month",
    "load_catalog",
    "money_check",
    "parse_catalog",
    "rate_invoice",
    "round_money",
]
