"""Great Expectations reconciliation rules as Dagster asset checks on the marts.

Every rule that guards money is blocking: when it fails, publish and invoices do not run, and a
marker tells `meterline invoice` to refuse until a run passes again.
"""

import dagster as dg

from orchestration.resources import MeterlineResource
from orchestration.run_state import mark_checks_failed

# rule name (orchestration/checks/reconciliation.py) -> the mart it proves
RULE_ASSETS = {
    "daily_usage_matches_bronze": "tenant_daily_usage",
    "monthly_usage_matches_daily": "tenant_monthly_usage",
    "trace_sessions_match_spans": "fct_trace_sessions",
    "platform_cost_matches_provider_cost": "platform_daily_cost",
    "ingest_audit_identity": "ingest_audit",
    "quarantine_rate_within_bound": "quarantine",
}
# Data-quality rules that warn instead of blocking.
NON_BLOCKING_RULES = {"quarantine_rate_within_bound"}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name=rule,
            asset=asset,
            blocking=rule not in NON_BLOCKING_RULES,
            description=f"Great Expectations reconciliation rule `{rule}`.",
        )
        for rule, asset in RULE_ASSETS.items()
    ],
    name="reconciliation_checks",
)
def reconciliation_checks(context, meterline: MeterlineResource):
    """Run every reconciliation rule on the build warehouse and report each as a check result."""
    from orchestration.checks.reconciliation import failing_rows_markdown, run_rule

    layout = meterline.layout
    failures = []
    for rule, asset in RULE_ASSETS.items():
        outcome = run_rule(rule, layout.warehouse, layout.home)
        blocking = rule not in NON_BLOCKING_RULES
        if not outcome.passed and blocking:
            failures.append({"rule": rule, "summary": outcome.summary})
        metadata = {"summary": outcome.summary, **{k: v for k, v in outcome.statistics.items()}}
        if not outcome.passed:
            metadata["failing_rows"] = dg.MetadataValue.md(failing_rows_markdown(outcome))
        if outcome.data_docs_path:
            metadata["data_docs"] = dg.MetadataValue.path(str(outcome.data_docs_path))
        yield dg.AssetCheckResult(
            check_name=rule,
            asset_key=asset,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )
    if failures:
        mark_checks_failed(layout, failures)
        for failure in failures:
            context.log.error(f"check {failure['rule']} failed: {failure['summary']}")
