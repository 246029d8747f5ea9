"""`meterline explain` (SPEC 8): the records and raw lines behind each line of one invoice.

The invoice is the tenant's file of the month (final, else the latest draft); its records are the
month's `invoice_records` file of the billing state, written together with that invoice, so the
explanation always matches what was billed even after later deliveries changed the marts. All the
work is one DuckDB scan of that Parquet file, filtered on the tenant.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.billing.invoice import Invoice, Line
from orchestration.billing.invoice_files import invoice_file_stem, invoice_from_json
from orchestration.billing.invoice_records import connect_in_memory, invoice_records_dir
from orchestration.billing.rating import money_text, quantity_text
from orchestration.core.sql_text import sql_literal

CSV_COLUMNS = (
    "line_type",
    "meter",
    "adjusts_period",
    "record_key",
    "source",
    "quantity",
    "event_time",
    "delivery_date",
    "raw_file",
    "raw_line",
)
RAW_FILES_SHOWN = 10
# exact decimal text without trailing zeros (DECIMAL(38, 12) always prints 12 decimals)
_QUANTITY_TEXT = "regexp_replace(regexp_replace(CAST(quantity AS VARCHAR), '0+$', ''), '\\.$', '')"


class NoSuchInvoiceError(LookupError):
    """The tenant has no invoice for the month (or no records were kept for it)."""


@dataclass(frozen=True)
class Explanation:
    invoice: Invoice
    text: str


def explain_invoice(
    home: Path, month: str, tenant: str, meter: str | None = None, csv_path: Path | None = None
) -> Explanation:
    """The readable explanation of the tenant's invoice of `month`; with `csv_path`, also one CSV
    row per record (`CSV_COLUMNS`) whose quantities add up to each line's quantity."""
    invoice_path = home / "invoices" / month / f"{invoice_file_stem(tenant)}.json"
    records = invoice_records_dir(home) / f"{month}.parquet"
    if not invoice_path.is_file():
        raise NoSuchInvoiceError(f"no invoice of tenant {tenant!r} for {month}")
    invoice = invoice_from_json(json.loads(invoice_path.read_bytes()))
    if not records.is_file():
        raise NoSuchInvoiceError(
            f"no invoice records kept for {month} (invoiced before lineage was recorded); "
            "re-run `meterline invoice` while the month is a draft"
        )
    lines = [
        line
        for line in invoice.lines
        if line.type in ("usage", "adjustment") and (meter is None or line.meter == meter)
    ]
    con = connect_in_memory(home)
    try:
        filters = f"tenant_id = {sql_literal(tenant)}"
        if meter:
            filters += f" AND meter = {sql_literal(meter)}"
        # one scan of the month's file; the summaries and the CSV read the tenant's rows only
        con.execute(
            f"CREATE TEMP TABLE mine AS SELECT * FROM read_parquet({sql_literal(records)}) "
            f"WHERE {filters}"
        )
        by_source = con.execute(
            "SELECT line_type, meter, adjusts_period, source, count(*) FROM mine GROUP BY ALL"
        ).fetchall()
        by_file = con.execute(
            "SELECT line_type, meter, adjusts_period, raw_file, count(*) AS n FROM mine "
            "GROUP BY ALL ORDER BY n DESC, raw_file"
        ).fetchall()
        if csv_path is not None:
            _write_csv(con, Path(csv_path))
    finally:
        con.close()
    return Explanation(invoice, _text(invoice, lines, by_source, by_file))


def _write_csv(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(
        f"""
        COPY (
            SELECT line_type, meter, adjusts_period, record_key, source,
                   {_QUANTITY_TEXT} AS quantity,
                   strftime(event_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS event_time,
                   delivery_date, raw_file, raw_line
            FROM mine
            ORDER BY line_type = 'adjustment', adjusts_period, meter, event_time, record_key
        ) TO {sql_literal(tmp)} (FORMAT csv, HEADER true)
        """
    )
    os.replace(tmp, target)


def _text(invoice: Invoice, lines: list[Line], by_source: list, by_file: list) -> str:
    number = invoice.invoice_number or "(draft, no number yet)"
    out = [
        f"Invoice {number} ({invoice.status}) of {invoice.tenant_id} for "
        f"{invoice.month}, plan {invoice.plan}: total {money_text(invoice.total)} "
        f"{invoice.currency}"
    ]
    if not lines:
        out.append("no usage or adjustment line")
    for line in lines:
        ident = (line.type, line.meter, line.adjusts_period)
        sources = sorted((s, n) for t, m, p, s, n in by_source if (t, m, p) == ident)
        files = [(f, n) for t, m, p, f, n in by_file if (t, m, p) == ident]
        count = sum(n for _, n in sources)
        label = f"{line.type} {line.meter}"
        if line.adjusts_period:
            label += f" of {line.adjusts_period} (adjusts {line.adjusts_invoice})"
        quantity = quantity_text(line.quantity) if line.quantity is not None else ""
        out.append(
            f"{label}: {quantity}  amount {money_text(line.amount)}  "
            f"<- {count} record{'s' if count != 1 else ''} ("
            + ", ".join(f"{s} {n}" for s, n in sources)
            + ")"
        )
        for name, n in files[:RAW_FILES_SHOWN]:
            out.append(f"    {name}  {n} record{'s' if n != 1 else ''}")
        if len(files) > RAW_FILES_SHOWN:
            out.append(f"    ... and {len(files) - RAW_FILES_SHOWN} more raw files")
    return "\n".join(out)
