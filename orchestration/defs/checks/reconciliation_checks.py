"""Great Expectations reconciliation rules as Dagster asset checks on the marts they prove.

Every rule that guards money is blocking: when it fails, publish and invoices do not run, and a
marker tells `meterline invoice` to refuse until a run passes again. The quarantine-rate rule only
warns. The bound comes from `METERLINE_MAX_QUARANTINE_RATE` (default 0.05).
"""

import os

import dagster as dg

from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import mark_checks_failed
from orchestration.defs.checks.reconciliation import (
    DEFAULT_MAX_QUARANTINE_RATE,
    RULES,
    failing_rows_markdown,
    run_rules,
    touched_days,
)
from orchestration.defs.transform.build_batch import checked_windows


def max_quarantine_rate() -> float:
    return float(os.environ.get("METERLINE_MAX_QUARANTINE_RATE", DEFAULT_MAX_QUARANTINE_RATE))


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name=rule.name,
            asset=rule.table,
            blocking=rule.guards_money,
            description=rule.statement,
        )
        for rule in RULES.values()
    ],
    name="reconciliation_checks",
)
def reconciliation_checks(context, meterline: MeterlineResource):
    """Run every reconciliation rule on the build warehouse; one check result per rule."""
    layout = meterline.layout
    windows = touched_days(layout.warehouse) if checked_windows(layout) else None
    context.log.info(
        "checking all of history" if windows is None else f"checking {len(windows)} touched days"
    )
    outcomes = run_rules(
        layout.warehouse, layout.home, windows=windows, max_quarantine_rate=max_quarantine_rate()
    )
    failures = []
    for outcome in outcomes:
        rule = RULES[outcome.rule]
        metadata = {"summary": outcome.summary, **outcome.statistics}
        if not outcome.passed:
            metadata["failing_rows"] = dg.MetadataValue.md(failing_rows_markdown(outcome))
            if rule.guards_money:
                failures.append({"rule": rule.name, "summary": outcome.summary})
                context.log.error(f"check {rule.name} failed: {outcome.summary}")
        if outcome.data_docs_path:
            metadata["data_docs"] = dg.MetadataValue.path(str(outcome.data_docs_path))
        yield dg.AssetCheckResult(
            check_name=rule.name,
            asset_key=rule.table,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR
            if rule.guards_money
            else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )
    if failures:
        mark_checks_failed(layout, failures)
