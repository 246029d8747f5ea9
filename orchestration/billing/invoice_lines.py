"""Rated invoice lines as a warehouse table, so analysts can join invoices to usage.

Each invoiced month keeps one Parquet file, `state/billing/lines/YYYY-MM.parquet` (the `lines_dir`
of `orchestration.billing.state`), rewritten with the drafts and frozen once the month is final;
publish exposes them all as `fct_invoice_lines`.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.billing.invoice_files import LINE_COLUMNS
from orchestration.core.sql_text import sql_literal

_TYPED = {
    "line_no": "INTEGER",
    "quantity": "DECIMAL(38, 12)",
    "included": "DECIMAL(38, 12)",
    "billable_quantity": "DECIMAL(38, 12)",
    "unit_price": "DECIMAL(38, 12)",
    "amount": "DECIMAL(18, 2)",
}
SELECT_TYPED = ", ".join(f"CAST({c} AS {_TYPED.get(c, 'VARCHAR')}) AS {c}" for c in LINE_COLUMNS)


def write_invoice_lines(lines_dir: Path, month: str, rows: list[dict]) -> Path:
    """Replace the month's invoice lines file with `rows` (typed: exact decimals, 2-decimal money)."""
    target = lines_dir / f"{month}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            c: pa.array([None if r[c] is None else str(r[c]) for r in rows], pa.string())
            for c in LINE_COLUMNS
        }
    )
    tmp = target.with_suffix(".parquet.tmp")
    con = duckdb.connect()
    try:
        con.register("lines", table)
        con.execute(
            f"COPY (SELECT {SELECT_TYPED} FROM lines) TO {sql_literal(tmp)} (FORMAT parquet)"
        )
    finally:
        con.close()
    os.replace(tmp, target)
    return target


def invoice_lines_query(lines_dir: Path) -> str:
    """SQL for every invoice line written so far (an empty, typed relation when there is none)."""
    if any(lines_dir.glob("*.parquet")):
        return f"SELECT * FROM read_parquet({sql_literal(lines_dir / '*.parquet')})"
    empty = ", ".join(f"CAST(NULL AS {_TYPED.get(c, 'VARCHAR')}) AS {c}" for c in LINE_COLUMNS)
    return f"SELECT {empty} LIMIT 0"
