"""Rated invoice lines as a warehouse table, so analysts can join invoices to usage.

Each invoiced month keeps one Parquet file, `invoices/.lines/YYYY-MM.parquet`, rewritten with the
drafts and frozen once the month is final; publish exposes them all as `fct_invoice_lines`.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.billing.lifecycle import LINE_COLUMNS
from orchestration.sql_text import sql_literal

LINES_DIR = ".lines"
_TYPED = {
    "line_no": "INTEGER",
    "quantity": "DECIMAL(38, 12)",
    "included": "DECIMAL(38, 12)",
    "billable_quantity": "DECIMAL(38, 12)",
    "unit_price": "DECIMAL(38, 12)",
    "amount": "DECIMAL(18, 2)",
}
SELECT_TYPED = ", ".join(f"CAST({c} AS {_TYPED.get(c, 'VARCHAR')}) AS {c}" for c in LINE_COLUMNS)


def lines_glob(invoices_root: Path) -> str:
    return str(invoices_root / LINES_DIR / "*.parquet")


def write_invoice_lines(invoices_root: Path, month: str, rows: list[dict]) -> Path:
    """Replace the month's invoice lines file with `rows` (typed: exact decimals, 2-decimal money)."""
    target = invoices_root / LINES_DIR / f"{month}.parquet"
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


def invoice_lines_query(invoices_root: Path) -> str:
    """SQL for every invoice line written so far (an empty, typed relation when there is none)."""
    if any((invoices_root / LINES_DIR).glob("*.parquet")):
        return f"SELECT * FROM read_parquet({sql_literal(lines_glob(invoices_root))})"
    empty = ", ".join(f"CAST(NULL AS {_TYPED.get(c, 'VARCHAR')}) AS {c}" for c in LINE_COLUMNS)
    return f"SELECT {empty} LIMIT 0"
