"""Checks (no group of their own: they sit on the marts they prove): the reconciliations, which
block publish, and the AI-usage warnings."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.checks.ai_usage_checks import AI_USAGE_CHECKS
from orchestration.defs.checks.reconciliation_checks import reconciliation_checks


def definitions() -> dg.Definitions:
    return dg.Definitions(asset_checks=[reconciliation_checks, *AI_USAGE_CHECKS])
