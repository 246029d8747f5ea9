"""Checks that must pass before the marts are published: the reconciliations
(row shapes are dbt data tests, run by the dbt build).

Importing this package is cheap; Great Expectations is imported on the first run.
"""

from orchestration.defs.checks.reconciliation import (
    RULES,
    Rule,
    RuleOutcome,
    failing_rows_markdown,
    run_rule,
    run_rules,
)

__all__ = ["RULES", "Rule", "RuleOutcome", "failing_rows_markdown", "run_rule", "run_rules"]
