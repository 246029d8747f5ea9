"""Warnings about AI usage that is metered but not fully explained (SPEC 2.3, 2.6).

Neither guards money on its own, so both only warn: usage whose model has no price in the catalog
(`unpriced_usage` has rows: provider cost and margin are incomplete until a price is added), and
traces whose agent or workflow spans report more tokens than the trace's other spans were metered
for (model calls that were not instrumented, so usage may be missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

ROWS_SHOWN = 20

UNPRICED_SQL = """
select source, provider, model, items, input_tokens, output_tokens, first_seen, last_seen
from unpriced_usage
order by items desc, source, provider nulls first, model nulls first
"""

AGENT_TOTALS_SQL = """
select
    trace_id, tenant_id, agent_id, input_tokens, agent_reported_input_tokens,
    output_tokens, agent_reported_output_tokens
from fct_trace_sessions
where agent_reported_input_tokens > input_tokens or agent_reported_output_tokens > output_tokens
order by started_at, trace_id
"""


@dataclass(frozen=True)
class Finding:
    """What one warning found: the number of rows behind it and the first of them."""

    count: int
    columns: list[str]
    rows: list[tuple[Any, ...]]

    @property
    def passed(self) -> bool:
        return self.count == 0

    def markdown(self) -> str:
        """The first rows as a Markdown table (NULL shown as `-`)."""
        if not self.rows:
            return "Nothing to report."
        lines = [
            "| " + " | ".join(self.columns) + " |",
            "| " + " | ".join("---" for _ in self.columns) + " |",
        ]
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        if self.count > len(self.rows):
            lines.append(f"\n({self.count - len(self.rows)} more rows)")
        return "\n".join(lines)


def unpriced_usage(warehouse: Path) -> Finding:
    """The models and providers the catalog has no price for, with their items and tokens."""
    return _find(warehouse, UNPRICED_SQL)


def agent_totals_above_metered(warehouse: Path) -> Finding:
    """Traces whose agent spans report more tokens than their other spans were metered for."""
    return _find(warehouse, AGENT_TOTALS_SQL)


def _find(warehouse: Path, sql: str) -> Finding:
    connection = duckdb.connect(
        str(warehouse),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        connection.execute("SET TimeZone = 'UTC'")
        relation = connection.execute(f"select count(*) from ({sql})")
        count = relation.fetchone()[0]
        relation = connection.execute(f"{sql} limit {ROWS_SHOWN}")
        columns = [column[0] for column in relation.description]
        return Finding(count, columns, relation.fetchall())
    finally:
        connection.close()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value).replace("|", "\\|")
