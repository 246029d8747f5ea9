"""Which usage records each invoice line billed (SPEC 7 `fct_invoice_records`).

For the invoices of one month, every usage line is the sum of the tenant's records of that meter in
the month, and every adjustment line is, per record of the adjusted (period, meter), the quantity
now in the marts minus the quantity billed for it so far: a record billed earlier that is no longer
in the marts (a later delivery with an earlier delivery date displaced it, SPEC 2.5) appears with
its billed quantity negated. The rows of a line add up exactly to its quantity.

Two files per month under the billing state (`orchestration.billing.state`):
- `invoice_records/YYYY-MM.parquet`: the rows of the month's lines, with each record's lineage
  (source, event time, delivery date, raw file and line), rewritten with the drafts;
- `billed_records/YYYY-MM.parquet`, written only when the month is finalized: per (tenant, period,
  meter, record) what its final invoices billed (every meter the invoice's `usage` holds, as the
  ledger does, and the adjustment rows), the "billed so far" of later adjustments.
All the work is DuckDB SQL over Parquet: a month of 10M records never passes through Python.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from orchestration.billing.invoice import Invoice
from orchestration.billing.rating import period_bounds, quantity_text
from orchestration.billing.state import BILLED_RECORDS, INVOICE_RECORDS, state_dir
from orchestration.core.settings import duckdb_memory_limit
from orchestration.core.sql_text import sql_literal

# The published table (SPEC 7) and, after them, the lineage kept for `meterline explain`.
PUBLISHED_COLUMNS = (
    "month",
    "tenant_id",
    "invoice_number",
    "status",
    "line_type",
    "meter",
    "adjusts_period",
    "record_key",
    "quantity",
)
LINEAGE_COLUMNS = ("source", "event_time", "delivery_date", "raw_file", "raw_line")
_LINE_TYPES = ("usage", "adjustment")
_EMPTY_RECORDS = (
    "SELECT NULL::VARCHAR AS month, NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS invoice_number, "
    "NULL::VARCHAR AS status, NULL::VARCHAR AS line_type, NULL::VARCHAR AS meter, "
    "NULL::VARCHAR AS adjusts_period, NULL::VARCHAR AS record_key, "
    "NULL::DECIMAL(38, 12) AS quantity LIMIT 0"
)


def invoice_records_dir(home: Path) -> Path:
    return state_dir(home, INVOICE_RECORDS)


def billed_records_dir(home: Path) -> Path:
    return state_dir(home, BILLED_RECORDS)


def record_invoice_records(
    home: Path,
    month: str,
    invoices: Sequence[Invoice],
    final: bool,
    marts: Path,
) -> Path:
    """Write the month's `invoice_records` file (and, when `final`, its `billed_records` file)
    from the invoices just issued and `fct_usage_records` of the DuckDB file `marts`."""
    import pyarrow as pa

    start, end = period_bounds(month)
    target = invoice_records_dir(home) / f"{month}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    billed = billed_records_dir(home)
    con = connect_in_memory(home)
    try:
        con.execute(f"ATTACH {sql_literal(marts)} AS marts (READ_ONLY)")
        con.register("invoice_lines", _lines_table(invoices))
        tenants = pa.array([i.tenant_id for i in invoices], pa.string())
        con.register("invoiced", pa.table({"tenant_id": tenants}))
        billed_sql = (
            f"SELECT * FROM read_parquet({sql_literal(billed / '*.parquet')})"
            if any(billed.glob("*.parquet"))
            else "SELECT NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS period, "
            "NULL::VARCHAR AS meter, NULL::VARCHAR AS record_key, NULL::DECIMAL(38, 12) AS "
            "quantity, NULL::VARCHAR AS source, NULL::TIMESTAMPTZ AS event_time, NULL::DATE AS "
            "delivery_date, NULL::VARCHAR AS raw_file, NULL::BIGINT AS raw_line, "
            "NULL::VARCHAR AS billed_in LIMIT 0"
        )
        con.execute(f"CREATE TEMP VIEW billed AS {billed_sql}")
        con.execute(
            "CREATE TEMP TABLE rows AS " + _RECORDS_SQL,
            {"month": month, "start": start.isoformat(), "end": end.isoformat()},
        )
        _copy(con, "SELECT * FROM rows ORDER BY tenant_id, line_type DESC, meter, "
              "adjusts_period, record_key", target)  # fmt: skip
        if final:
            _copy(
                con,
                _BILLED_SQL,
                billed_records_dir(home) / f"{month}.parquet",
                {"month": month, "start": start.isoformat(), "end": end.isoformat()},
            )
    finally:
        con.close()
    return target


def records_problems(home: Path, month: str, invoices: Sequence[Invoice]) -> list[str]:
    """Usage and adjustment lines whose records do not add up exactly to their quantity."""
    path = invoice_records_dir(home) / f"{month}.parquet"
    if not path.exists():
        return [f"{month}: no invoice records written"]
    con = connect_in_memory(home)
    try:
        con.register("invoice_lines", _lines_table(invoices))
        rows = con.execute(
            f"""
            WITH sums AS (
                SELECT tenant_id, line_type, meter, adjusts_period, sum(quantity) AS quantity
                FROM read_parquet({sql_literal(path)})
                GROUP BY ALL
            )
            SELECT l.tenant_id, l.line_type, l.meter, l.adjusts_period,
                   CAST(l.quantity AS DECIMAL(38, 12)), coalesce(s.quantity, 0)
            FROM invoice_lines AS l
            LEFT JOIN sums AS s
                ON s.tenant_id = l.tenant_id AND s.line_type = l.line_type
                AND s.meter = l.meter
                AND s.adjusts_period IS NOT DISTINCT FROM l.adjusts_period
            WHERE CAST(l.quantity AS DECIMAL(38, 12)) <> coalesce(s.quantity, 0)
            ORDER BY ALL
            """
        ).fetchall()
    finally:
        con.close()
    return [
        f"{tenant}: {kind} line {meter}{f' of {period}' if period else ''} has quantity "
        f"{line_quantity} but its records add up to {records}"
        for tenant, kind, meter, period, line_quantity, records in rows
    ]


def invoice_records_query(home: Path) -> str:
    """SQL for the published `fct_invoice_records` (every invoiced month, SPEC 7 columns)."""
    folder = invoice_records_dir(home)
    if not any(folder.glob("*.parquet")):
        return _EMPTY_RECORDS
    columns = ", ".join(PUBLISHED_COLUMNS)
    return f"SELECT {columns} FROM read_parquet({sql_literal(folder / '*.parquet')})"


def connect_in_memory(home: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC whose spill files go under the home (by default
    DuckDB spills to `.tmp` in the working directory, wherever the command was started)."""
    con = duckdb.connect(
        config={
            "memory_limit": duckdb_memory_limit(),
            "temp_directory": str(home / "warehouse" / "billing.tmp"),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    con.execute("SET TimeZone = 'UTC'")
    return con


def _lines_table(invoices: Sequence[Invoice]):
    """The usage and adjustment lines of `invoices` as an Arrow table of strings (quantities as
    exact decimal text, cast to DECIMAL(38, 12) in SQL)."""
    # pyarrow takes a second to import: `meterline explain` reads the records without it
    import pyarrow as pa

    rows = [
        {
            "invoice_number": invoice.invoice_number,
            "status": invoice.status,
            "tenant_id": invoice.tenant_id,
            "line_type": line.type,
            "meter": line.meter,
            "adjusts_period": line.adjusts_period,
            "quantity": quantity_text(line.quantity),
        }
        for invoice in invoices
        for line in invoice.lines
        if line.type in _LINE_TYPES and line.quantity is not None
    ]
    names = ("invoice_number", "status", "tenant_id", "line_type", "meter", "adjusts_period",
             "quantity")  # fmt: skip
    return pa.table({n: pa.array([r[n] for r in rows], pa.string()) for n in names})


def _copy(
    con: duckdb.DuckDBPyConnection, query: str, target: Path, params: dict | None = None
) -> None:
    """COPY `query` to Parquet at `target` through a temporary file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(f"COPY ({query}) TO {sql_literal(tmp)} (FORMAT parquet, COMPRESSION zstd)", params)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)


# $month 'YYYY-MM', $start / $end: the period's first day and the next month's.
_RECORDS_SQL = """
WITH records AS (
    SELECT record_key, source, tenant_id, meter, quantity, event_time, delivery_date,
           raw_file, raw_line
    FROM marts.main.fct_usage_records
),

usage_rows AS (
    SELECT l.invoice_number, l.status, l.tenant_id, l.line_type, l.meter,
           NULL::VARCHAR AS adjusts_period, r.record_key, r.quantity, r.source, r.event_time,
           r.delivery_date, r.raw_file, r.raw_line
    FROM invoice_lines AS l
    INNER JOIN records AS r
        ON r.tenant_id = l.tenant_id AND r.meter = l.meter
        AND r.event_time >= CAST($start AS TIMESTAMPTZ)
        AND r.event_time < CAST($end AS TIMESTAMPTZ)
    WHERE l.line_type = 'usage'
),

adjusted AS (
    SELECT invoice_number, status, tenant_id, meter, adjusts_period,
           CAST(adjusts_period || '-01' AS TIMESTAMPTZ) AS period_start,
           CAST(adjusts_period || '-01' AS TIMESTAMPTZ) + INTERVAL 1 MONTH AS period_end
    FROM invoice_lines
    WHERE line_type = 'adjustment'
),

records_now AS (
    SELECT a.tenant_id, a.meter, a.adjusts_period, r.record_key, r.quantity, r.source,
           r.event_time, r.delivery_date, r.raw_file, r.raw_line
    FROM adjusted AS a
    INNER JOIN records AS r
        ON r.tenant_id = a.tenant_id AND r.meter = a.meter
        AND r.event_time >= a.period_start AND r.event_time < a.period_end
),

-- what was billed per record so far: its usage row and earlier adjustments; the lineage of the
-- latest billing is the one shown for a record no longer in the marts
billed_so_far AS (
    SELECT b.tenant_id, b.meter, b.period AS adjusts_period, b.record_key,
           sum(b.quantity) AS quantity,
           arg_max(b.source, b.billed_in) AS source,
           arg_max(b.event_time, b.billed_in) AS event_time,
           arg_max(b.delivery_date, b.billed_in) AS delivery_date,
           arg_max(b.raw_file, b.billed_in) AS raw_file,
           arg_max(b.raw_line, b.billed_in) AS raw_line
    FROM billed AS b
    INNER JOIN adjusted AS a
        ON b.tenant_id = a.tenant_id AND b.meter = a.meter AND b.period = a.adjusts_period
    GROUP BY b.tenant_id, b.meter, b.period, b.record_key
),

adjustment_rows AS (
    SELECT a.invoice_number, a.status, a.tenant_id, 'adjustment' AS line_type, a.meter,
           a.adjusts_period,
           coalesce(n.record_key, b.record_key) AS record_key,
           coalesce(n.quantity, 0) - coalesce(b.quantity, 0) AS quantity,
           coalesce(n.source, b.source) AS source,
           coalesce(n.event_time, b.event_time) AS event_time,
           coalesce(n.delivery_date, b.delivery_date) AS delivery_date,
           coalesce(n.raw_file, b.raw_file) AS raw_file,
           coalesce(n.raw_line, b.raw_line) AS raw_line
    FROM records_now AS n
    FULL OUTER JOIN billed_so_far AS b
        ON n.tenant_id = b.tenant_id AND n.meter = b.meter
        AND n.adjusts_period = b.adjusts_period AND n.record_key = b.record_key
    INNER JOIN adjusted AS a
        ON a.tenant_id = coalesce(n.tenant_id, b.tenant_id)
        AND a.meter = coalesce(n.meter, b.meter)
        AND a.adjusts_period = coalesce(n.adjusts_period, b.adjusts_period)
    WHERE coalesce(n.quantity, 0) <> coalesce(b.quantity, 0)
)

SELECT $month AS month, tenant_id, invoice_number, status, line_type, meter, adjusts_period,
       record_key, CAST(quantity AS DECIMAL(38, 12)) AS quantity, source, event_time,
       delivery_date, raw_file, raw_line
FROM (
    SELECT * FROM usage_rows
    UNION ALL
    SELECT * FROM adjustment_rows
)
"""

# A final month's billing per record: all the month's records of its invoiced tenants (every
# meter, priced or not, as the ledger keeps the invoice's whole `usage`), and its adjustment rows.
_BILLED_SQL = """
SELECT r.tenant_id, $month AS period, r.meter, r.record_key,
       CAST(r.quantity AS DECIMAL(38, 12)) AS quantity, r.source, r.event_time,
       r.delivery_date, r.raw_file, r.raw_line, $month AS billed_in
FROM marts.main.fct_usage_records AS r
SEMI JOIN invoiced AS i ON r.tenant_id = i.tenant_id
WHERE r.event_time >= CAST($start AS TIMESTAMPTZ) AND r.event_time < CAST($end AS TIMESTAMPTZ)
UNION ALL
SELECT tenant_id, adjusts_period, meter, record_key, quantity, source, event_time,
       delivery_date, raw_file, raw_line, $month
FROM rows
WHERE line_type = 'adjustment'
"""
