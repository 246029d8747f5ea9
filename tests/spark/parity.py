"""Row-for-row comparison of two builds' tables, read by one DuckDB connection."""

from __future__ import annotations

import duckdb


def table_differences(
    con: duckdb.DuckDBPyConnection, table: str, left: str, right: str
) -> list[str]:
    """What differs between the relations `left` (a DuckDB build) and `right` (a Spark build):
    the column names and types, then the rows as multisets (EXCEPT ALL both ways). DECIMAL values
    compare exactly, and so do DOUBLE ones (means and percentiles, rounded alike by the models)."""
    left_schema = [(c[0], c[1]) for c in con.execute(f"DESCRIBE SELECT * FROM {left}").fetchall()]
    right_schema = [(c[0], c[1]) for c in con.execute(f"DESCRIBE SELECT * FROM {right}").fetchall()]
    if left_schema != right_schema:
        return [f"{table}: columns differ: duckdb {left_schema} spark {right_schema}"]
    problems = []
    for first, second, name in ((left, right, "duckdb"), (right, left, "spark")):
        rows = con.execute(f"SELECT * FROM {first} EXCEPT ALL SELECT * FROM {second} LIMIT 5")
        problems += [f"{table}: only in the {name} build: {row}" for row in rows.fetchall()]
    return problems
