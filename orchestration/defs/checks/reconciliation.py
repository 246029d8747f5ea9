"""Reconciliation rules: the checks that prove the marts add up before anything is published.

A rule is one SQL query under `sql/` whose header comment states the rule in one sentence. The
query lines up two independent computations side by side (the mart's number next to a recount
from the accepted bronze items, a missing side counting 0), and the GX suite of the same name,
committed under `expectations/gx/expectations/`, judges the frame. A frame has one row per group
(a tenant's day, a file), never one per record. Row shapes (keys unique, columns not null, values
in their domain, counts never negative) are dbt data tests in the marts' yml, not rules here.
`run_rule` is pure enough for a Dagster asset check: it reads the warehouse read-only and
writes only GX results and Data Docs under `<home>/gx/`.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from orchestration.core.time_columns import TIME_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.defs.checks.gx_runner import ExpectationFailure, SuiteValidation

SQL_DIR = Path(__file__).with_name("sql")
FAILING_ROWS_LIMIT = 50
DEFAULT_MAX_QUARANTINE_RATE = 0.05
CHECKS_MEMORY_LIMIT = "512MiB"


@dataclass(frozen=True)
class LineUp:
    """The skeleton most reconciliations share: two sides full-outer-joined on their keys, each
    measure side by side (`<side>_<measure>`, the names `_describe` reads), a missing side
    counting 0, optionally the difference. A rule's SQL defines both sides as CTEs and ends with
    `$line_up`, which this renders."""

    keys: tuple[str, ...]
    measures: tuple[str, ...]
    recount: str
    """The recount's CTE, also the prefix of its columns (`bronze`, `facts`, ...)."""
    mart: str = "mart"
    """The mart side's CTE or table, also the prefix of its columns."""
    differences: tuple[str, ...] = ()
    """Measures that also get a `<measure>_difference` column (mart minus recount)."""
    null_fails: bool = False
    """True: a mart row with a NULL measure stays NULL and fails, so the mart side must carry an
    `is_present` column; False: a NULL measure on either side counts 0, like a missing row."""

    def sql(self) -> str:
        mart, recount = self.mart, self.recount
        lined = [f"coalesce({mart}.{key}, {recount}.{key}) as {key}" for key in self.keys]
        for measure in self.measures:
            if self.null_fails:
                mart_value = f"case when {mart}.is_present then {mart}.{measure} else 0 end"
            else:
                mart_value = f"coalesce({mart}.{measure}, 0)"
            lined += [
                f"{mart_value} as {mart}_{measure}",
                f"coalesce({recount}.{measure}, 0) as {recount}_{measure}",
            ]
        columns = list(self.keys)
        for measure in self.measures:
            columns += [f"{mart}_{measure}", f"{recount}_{measure}"]
            if measure in self.differences:
                columns.append(f"{mart}_{measure} - {recount}_{measure} as {measure}_difference")
        on = "\n        and ".join(f"{mart}.{key} = {recount}.{key}" for key in self.keys)
        return (
            "select\n    "
            + ",\n    ".join(columns)
            + "\nfrom (\n    select\n        "
            + ",\n        ".join(lined)
            + f"\n    from {mart}\n    full outer join {recount}\n        on {on}\n) as lined_up"
            + f"\norder by {', '.join(self.keys)}\n"
        )


@dataclass(frozen=True)
class Rule:
    """A named check: the SQL that lines up the evidence and the GX suite that judges it."""

    name: str
    table: str
    """The mart the rule vouches for: where its Dagster asset check belongs."""
    row_label: str
    """`str.format` template naming one row of the rule's frame in messages."""
    guards_money: bool = True
    """True: a failure must block publishing and invoicing. False: a warning only."""
    parameters: Mapping[str, float] = field(default_factory=dict)
    """Suite parameters (`$PARAMETER` in the suite) with their defaults; all are rates."""
    extra_statistics: Callable[[pd.DataFrame], dict[str, Any]] | None = None
    """Rule-specific numbers for the outcome's statistics, computed from the rule's frame."""
    window: str | None = "day"
    """On an incremental run, the rule sees the touched `day`s or the `month`s holding them of
    every windowed table (WINDOWED_TABLES); None: a whole-history identity over small tables
    (one row per file, or per day), run in full every time."""
    by_trace: bool = False
    """Span tables are windowed by their trace's start (the rule compares traces, not days)."""
    line_up: LineUp | None = None
    """The shared skeleton that renders the rule's `$line_up`, for SQL that ends with it."""

    @property
    def suite_name(self) -> str:
        """The GX suite judging this rule: one per rule, named after it."""
        return self.name

    @cached_property
    def sql(self) -> str:
        """The query whose result the suite validates."""
        text = (SQL_DIR / f"{self.name}.sql").read_text()
        if self.line_up is None:
            return text
        return string.Template(text).substitute(line_up=self.line_up.sql())

    @cached_property
    def statement(self) -> str:
        """The rule in one sentence: the header comment of its SQL."""
        header = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            header.append(line.removeprefix("--").strip())
        return " ".join(header)


@dataclass(frozen=True, eq=False)
class RuleOutcome:
    """The verdict of one rule on one warehouse."""

    rule: str
    passed: bool
    guards_money: bool
    failing_rows: pd.DataFrame
    """At most 50 frame rows that break the rule: keys, both sides or counts, `violations`."""
    summary: str
    data_docs_path: Path | None
    statistics: dict[str, Any]


def _quarantine_rates(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "quarantine_rate_by_source": {
            row.source: float(row.quarantine_rate) for row in frame.itertuples(index=False)
        }
    }


_DAY = "tenant {tenant_id}, meter {meter}, {usage_date}"
_MONTH = "tenant {tenant_id}, meter {meter}, month {usage_month}"
_COST_DAY = "tenant {tenant_id}, source {source}, {usage_date}"
_USAGE_KEYS = ("tenant_id", "meter")
_USAGE_MEASURES = ("quantity", "record_count")
_SESSION_MEASURES = ("sessions", "error_sessions", "input_tokens", "output_tokens", "cost_usd")

RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "daily_usage_matches_bronze",
            "tenant_daily_usage",
            _DAY,
            line_up=LineUp(
                ("usage_date", *_USAGE_KEYS),
                _USAGE_MEASURES,
                recount="bronze",
                differences=_USAGE_MEASURES,
                null_fails=True,
            ),
        ),
        Rule(
            "monthly_usage_matches_daily",
            "tenant_monthly_usage",
            _MONTH,
            window=None,
            line_up=LineUp(
                ("usage_month", *_USAGE_KEYS),
                _USAGE_MEASURES,
                recount="daily",
                mart="monthly",
                differences=_USAGE_MEASURES,
                null_fails=True,
            ),
        ),
        Rule(
            "trace_sessions_match_spans",
            "fct_trace_sessions",
            "tenant {tenant_id}, {usage_date}, first trace off {first_trace_off}",
            by_trace=True,
        ),
        Rule(
            "platform_cost_matches_provider_cost",
            "platform_daily_cost",
            _COST_DAY,
            line_up=LineUp(
                ("usage_date", "source", "tenant_id"),
                ("cost_usd", "unpriced_items"),
                recount="provider",
                differences=("cost_usd",),
                null_fails=True,
            ),
        ),
        Rule("ingest_audit_identity", "ingest_audit", "file {file}", window=None),
        Rule(
            "quarantine_rate_within_bound",
            "ingest_audit",
            "source {source} ({quarantined} of {items_read} items quarantined)",
            guards_money=False,
            parameters={"max_quarantine_rate": DEFAULT_MAX_QUARANTINE_RATE},
            extra_statistics=_quarantine_rates,
            window=None,
        ),
        Rule(
            "team_daily_stats_match_sessions",
            "team_daily_stats",
            "tenant {tenant_id}, {usage_date}",
            line_up=LineUp(("usage_date", "tenant_id"), _SESSION_MEASURES, recount="facts"),
        ),
        Rule(
            "platform_daily_stats_match_sessions",
            "platform_daily_stats",
            "{usage_date}",
            line_up=LineUp(
                ("usage_date",),
                (
                    "tenants",
                    "sessions",
                    "billable_sessions",
                    "error_sessions",
                    "input_tokens",
                    "output_tokens",
                    "cost_usd",
                    "unpriced_spans",
                ),
                recount="facts",
            ),
        ),
        Rule(
            "feature_monthly_usage_matches_usage_cost",
            "feature_monthly_usage",
            "tenant {tenant_id}, source {source}, month {usage_month}",
            window="month",
            line_up=LineUp(("usage_month", "tenant_id", "source"), ("cost_usd",), recount="facts"),
        ),
    )
}

# Rules on tables that only the published marts hold (invoicing adds them to every published
# version): run on a new version before it becomes current (`orchestration.defs.invoicing.invoice_tables`).
PUBLISHED_RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "tenant_monthly_margin_matches_usage_cost",
            "tenant_monthly_margin",
            "tenant {tenant_id}, month {usage_month}",
        ),
    )
}


# SPEC 9: the tables a windowed rule reads, with the time column that places a row in a window
# (macros/incremental.sql replaces whole windows of the same columns). Span tables hold `trace_id`.
WINDOWED_TABLES = {
    table: TIME_COLUMNS[table]
    for table in (
        "int_events_copies_classified",
        "int_usage_logs_copies_classified",
        "int_sessions_copies_classified",
        "int_traces_copies_classified",
        "int_spans_costed",
        "int_usage_logs_costed",
        "int_provider_costs",
        "int_usage_records_unioned",
        "int_traces_assembled",
        "fct_usage_records",
        "fct_trace_sessions",
        "tenant_daily_usage",
        "agent_daily_stats",
        "team_daily_stats",
        "platform_daily_stats",
        "platform_daily_cost",
        "tenant_monthly_usage",
        "feature_monthly_usage",
    )
}
_SPAN_TABLES = ("int_traces_copies_classified", "int_spans_costed")


def touched_days(warehouse: Path) -> list[date]:
    """The UTC days the last incremental dbt build replaced (int_touched_days)."""
    with _open_read_only(warehouse) as connection:
        rows = connection.execute(
            "SELECT DISTINCT usage_date FROM main.int_touched_days"
        ).fetchall()
    return sorted(day for (day,) in rows)


def _window_views(connection: duckdb.DuckDBPyConnection, rule: Rule, days: list[date]) -> None:
    """Shadow every windowed table with a temp view of the rule's windows (the rule's SQL names
    tables unqualified, and temp views come first in DuckDB's search path)."""
    database = connection.execute("SELECT current_database()").fetchone()[0]
    existing = {
        name
        for (name,) in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            " AND table_catalog = current_database()"
        ).fetchall()
    }
    values = sorted({day.replace(day=1) for day in days}) if rule.window == "month" else days
    grain = "month" if rule.window == "month" else "day"
    listed = ", ".join(f"DATE '{value.isoformat()}'" for value in values)

    def within(column: str) -> str:
        if not values:
            return "false"
        # the range on the bare column lets DuckDB skip row groups by their min/max
        return (
            f"{column} >= DATE '{values[0].isoformat()}' "
            f"AND {column} < DATE '{values[-1].isoformat()}' + INTERVAL 1 {grain} "
            f"AND CAST(date_trunc('{grain}', {column}) AS DATE) IN ({listed})"
        )

    for table, column in WINDOWED_TABLES.items():
        if table not in existing:
            continue
        qualified = f'"{database}".main.{table}'
        if rule.by_trace and table in _SPAN_TABLES:
            where = (
                f'trace_id IN (SELECT trace_id FROM "{database}".main.int_traces_assembled '
                f"WHERE {within('started_at')})"
            )
        else:
            where = within(column)
        connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {qualified} WHERE {where}"
        )


def _drop_window_views(connection: duckdb.DuckDBPyConnection) -> None:
    for table in WINDOWED_TABLES:
        connection.execute(f"DROP VIEW IF EXISTS temp.main.{table}")


def run_rule(rule_name: str, warehouse: Path, home: Path, **params: float) -> RuleOutcome:
    """Run one rule on the DuckDB `warehouse`; GX results and Data Docs go to `<home>/gx/`.

    `params` set the rule's parameters, e.g. `max_quarantine_rate=0.1`.
    """
    [outcome] = run_rules(warehouse, home, [rule_name], **params)
    return outcome


def run_rules(
    warehouse: Path,
    home: Path,
    rule_names: Iterable[str] | None = None,
    windows: list[date] | None = None,
    **params: float,
) -> list[RuleOutcome]:
    """Run several rules (all by default, in `RULES` order) on one connection and GX context.

    `windows`: the UTC days an incremental build replaced; a windowed rule then checks only
    those days (or their months), rows elsewhere having been checked when they were built.
    None checks all of history. Data Docs are rendered once, after the last rule: one page costs
    as much as a validation.
    """
    rules = [_rule(name) for name in (RULES if rule_names is None else rule_names)]
    declared = {name for rule in rules for name in rule.parameters}
    if unknown := sorted(set(params) - declared):
        raise ValueError(
            f"unknown rule parameter(s) {unknown}; these rules take {sorted(declared)}"
        )
    for name, value in params.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
            raise ValueError(f"{name} is a rate between 0 and 1, got {value!r}")

    # Importing GX takes seconds: keep it out of whatever merely imports the rules (Definitions).
    from orchestration.defs.checks.gx_runner import SuiteRunner

    runner = SuiteRunner(home)
    outcomes = []
    with _open_read_only(warehouse) as connection:
        for rule in rules:
            if windows is not None and rule.window is not None:
                _window_views(connection, rule, windows)
            else:
                _drop_window_views(connection)
            # Arrow keeps DECIMAL as exact Decimal objects (DuckDB's .df() would give floats).
            frame = connection.sql(rule.sql).to_arrow_table().to_pandas()
            parameters = _parameters(rule, params)
            validation = runner.validate(rule.suite_name, frame, parameters)
            outcomes.append(_outcome(rule, frame, validation, parameters))
    runner.build_data_docs()
    return outcomes


def failing_rows_markdown(outcome: RuleOutcome) -> str:
    """The outcome's failing rows as a Markdown table (for Dagster metadata)."""
    rows = outcome.failing_rows
    if rows.empty:
        return "No failing rows."
    header = [str(column) for column in rows.columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for values in rows.itertuples(index=False):
        cells = (_show(value).replace("|", "\\|").replace("\n", " ") for value in values)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _rule(name: str) -> Rule:
    try:
        return RULES[name] if name in RULES else PUBLISHED_RULES[name]
    except KeyError:
        known = ", ".join([*RULES, *PUBLISHED_RULES])
        raise ValueError(f"unknown rule {name!r}; known rules: {known}") from None


def _parameters(rule: Rule, params: Mapping[str, float]) -> dict[str, float]:
    return {name: float(params.get(name, default)) for name, default in rule.parameters.items()}


def _open_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not Path(warehouse).is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}: build the marts first")
    connection = duckdb.connect(
        str(warehouse),
        read_only=True,
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            # the marts grow with history, the checks' memory must not: beyond this DuckDB
            # spills to `<warehouse>.tmp`
            "memory_limit": CHECKS_MEMORY_LIMIT,
            # every rule orders its own result, so scans need not keep the tables' order
            "preserve_insertion_order": False,
        },
    )
    # UTC days whatever the machine's time zone (SPEC 8): casts of TIMESTAMPTZ to DATE use it.
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _outcome(
    rule: Rule, frame: pd.DataFrame, validation: SuiteValidation, parameters: dict[str, float]
) -> RuleOutcome:
    violations: dict[Any, list[str]] = {}
    for failure in validation.failures:
        for index in failure.row_indices:
            violations.setdefault(index, []).append(_describe(failure, frame.loc[index]))
    # Each rule's SQL orders its rows by key, so index order is key order.
    failing_indices = sorted(violations)[:FAILING_ROWS_LIMIT]
    failing_rows = frame.loc[failing_indices].reset_index(drop=True)
    failing_rows["violations"] = ["; ".join(violations[index]) for index in failing_indices]
    # GX reports at most 50 rows per expectation: beyond that the count is a lower bound.
    failing_count = max([len(violations), *(f.unexpected_count for f in validation.failures)])

    statistics: dict[str, Any] = {
        "rows_checked": len(frame),
        "failing_rows": failing_count,
        "evaluated_expectations": validation.evaluated_expectations,
        "failed_expectations": {_name(f): f.unexpected_count for f in validation.failures},
        **parameters,
    }
    if rule.extra_statistics:
        statistics.update(rule.extra_statistics(frame))

    return RuleOutcome(
        rule=rule.name,
        passed=validation.success,
        guards_money=rule.guards_money,
        failing_rows=failing_rows,
        summary=_summary(rule, frame, validation, failing_indices, failing_count),
        data_docs_path=validation.data_docs_page,
        statistics=statistics,
    )


def _summary(
    rule: Rule,
    frame: pd.DataFrame,
    validation: SuiteValidation,
    failing_indices: list[Any],
    failing_count: int,
) -> str:
    if validation.success:
        return (
            f"{rule.name}: all {validation.evaluated_expectations} expectations hold"
            f" on {len(frame)} rows"
        )
    if not failing_indices:
        return f"{rule.name}: " + "; ".join(_name(f) for f in validation.failures) + " failed"
    first = frame.loc[failing_indices[0]]
    label = rule.row_label.format(**{column: _show(value) for column, value in first.items()})
    messages = [
        _describe(failure, first)
        for failure in validation.failures
        if failing_indices[0] in failure.row_indices
    ]
    more = f" (and {failing_count - 1} more failing rows)" if failing_count > 1 else ""
    return f"{label}: {'; '.join(messages)}{more}"


def _describe(failure: ExpectationFailure, row: pd.Series) -> str:
    """How `row` breaks the expectation, in words and values."""
    kwargs = failure.kwargs
    match failure.expectation_type:
        case "expect_column_pair_values_to_be_equal":
            return _sides(kwargs["column_A"], kwargs["column_B"], row, "vs")
        case "expect_compound_columns_to_be_unique":
            return f"duplicate ({', '.join(kwargs['column_list'])})"
        case "expect_column_values_to_be_unique":
            return f"duplicate {kwargs['column']}"
        case "expect_column_values_to_not_be_null":
            return f"{kwargs['column']} is NULL"
        case "expect_column_values_to_be_between":
            value, maximum = row[kwargs["column"]], kwargs.get("max_value")
            if maximum is not None and value > maximum:
                return f"{kwargs['column']} {_show(value)} above {_show(maximum)}"
            return f"{kwargs['column']} {_show(value)} below {_show(kwargs.get('min_value'))}"
    return _name(failure)


def _sides(column_a: str, column_b: str, row: pd.Series, relation: str) -> str:
    """`quantity mart 12 vs bronze 11` when both columns are `<side>_<measure>`."""
    side_a, _, measure_a = column_a.partition("_")
    side_b, _, measure_b = column_b.partition("_")
    a, b = _show(row[column_a]), _show(row[column_b])
    if measure_a and measure_a == measure_b:
        return f"{measure_a} {side_a} {a} {relation} {side_b} {b}"
    return f"{column_a} {a} {relation} {column_b} {b}"


def _name(failure: ExpectationFailure) -> str:
    """A short name of the expectation: its type and columns."""
    kwargs = failure.kwargs
    columns = kwargs.get("column_list") or [
        kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs
    ]
    return f"{failure.expectation_type.removeprefix('expect_')}({', '.join(columns)})"


def _show(value: Any) -> str:
    """A value as people read it: exact decimals without trailing zeros, NULL for missing."""
    import pandas as pd  # imported with GX when the checks run, not when Dagster loads them

    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return "NULL"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
