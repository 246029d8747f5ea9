"""Non-blocking asset checks on AI usage: unpriced models, uninstrumented model calls.

They warn in the Dagster UI (with a Markdown table of what they found) and never stop publishing
or invoicing: the usage itself is metered correctly either way (see orchestration/defs/checks/ai_usage.py).
"""

import dagster as dg

from orchestration.core.resources import MeterlineResource
from orchestration.defs.checks.ai_usage import Finding, agent_totals_above_metered, unpriced_usage


def _result(finding: Finding, summary: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=finding.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "summary": summary,
            "rows": finding.count,
            "details": dg.MetadataValue.md(finding.markdown()),
        },
    )


@dg.asset_check(asset="unpriced_usage", blocking=False, name="every_model_has_a_price")
def every_model_has_a_price(meterline: MeterlineResource) -> dg.AssetCheckResult:
    """Warns while some usage has token counts but no price in the catalog (cost unknown)."""
    finding = unpriced_usage(meterline.layout.warehouse)
    summary = (
        "every item with tokens has a price or a sent cost"
        if finding.passed
        else f"{finding.count} model/provider pairs have no price: add them to model_prices"
    )
    return _result(finding, summary)


@dg.asset_check(
    asset="fct_trace_sessions", blocking=False, name="agent_totals_within_metered_tokens"
)
def agent_totals_within_metered_tokens(meterline: MeterlineResource) -> dg.AssetCheckResult:
    """Warns about traces whose agent spans report more tokens than their model calls were
    metered for: model calls below the agent were not instrumented."""
    finding = agent_totals_above_metered(meterline.layout.warehouse)
    summary = (
        "no agent span reports more tokens than its trace was metered for"
        if finding.passed
        else f"{finding.count} traces: agent spans report more tokens than were metered"
    )
    return _result(finding, summary)


AI_USAGE_CHECKS = [every_model_has_a_price, agent_totals_within_metered_tokens]
