"""Invoice files (SPEC 6): file names, the month folder's files (JSON, CSV, PDF, summary,
unbilled, manifest) and how they are written (atomic, fsynced). What to bill is decided in
`orchestration.billing.lifecycle`; this module only turns invoices into files and reads back a
final month's invoices. It is the one place where an `Invoice` becomes the SPEC 6 strings
(`invoice_json`) and where stored ones become an `Invoice` again (`invoice_from_json`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import string
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestration.billing.invoice import Alert, Invoice, Line, Tier
from orchestration.billing.rating import (
    money_text,
    quantity_text,
    round_money,
    tier_bands,
    utc_timestamp,
)

MANIFEST = "manifest.json"
SUMMARY_COLUMNS = (
    "invoice_number",
    "tenant_id",
    "plan",
    "status",
    "monthly_fee",
    "usage_subtotal",
    "discount",
    "true_up",
    "total",
)
UNBILLED_COLUMNS = ("tenant_id", "meter", "quantity")
LINE_COLUMNS = (
    "invoice_number",
    "tenant_id",
    "period",
    "status",
    "line_no",
    "type",
    "meter",
    "description",
    "adjusts_period",
    "adjusts_invoice",
    "quantity",
    "included",
    "billable_quantity",
    "unit_price",
    "tiers",
    "amount",
)
_SAFE_BYTES = frozenset((string.ascii_letters + string.digits + "._-").encode())
# tenant files must never take the name of the month's own files (summary.csv, manifest.json, ...)
_RESERVED_STEMS = frozenset({"summary", "unbilled", "manifest"})
_SYNC_THREADS = 8
_MAX_STEM_BYTES = 200
_CUT_STEM_BYTES = 180
# CSV cells never carry control characters raw (a NUL or line break in a tenant id would break
# readers): each is written percent-encoded, like in file names
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def invoice_file_stem(tenant_id: str) -> str:
    """File name stem of a tenant's invoice files (SPEC 6): every byte outside `[A-Za-z0-9._-]`
    percent-encoded (`%XX`, UTF-8), `.`/`..` written `%2E`/`%2E%2E` and the first `.` of any
    other id that starts with one written `%2E`, so no tenant id can name a path outside the month
    folder or a hidden file. A stem that would collide with `summary.csv`, `unbilled.csv` or
    `manifest.json` (in any letter case) gets its first byte encoded too (`%73ummary`). A stem
    longer than 200 bytes is cut after its first 180 bytes (never inside a `%XX`) and `~` plus the
    first 16 hex digits of the SHA-256 of the tenant id appended: every file name stays far
    below the 255 bytes file systems allow.
    """
    if not tenant_id:
        raise ValueError("tenant_id must not be empty")
    if tenant_id in (".", ".."):
        return "%2E" * len(tenant_id)
    stem = _legacy_file_stem(tenant_id)
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    if len(stem) > _MAX_STEM_BYTES:  # the stem is ASCII: characters are bytes
        cut = stem[:_CUT_STEM_BYTES]
        tail = cut[-2:]
        if "%" in tail:  # the cut fell inside a %XX: keep none of it
            cut = cut[: len(cut) - len(tail) + tail.index("%")]
        stem = f"{cut}~{hashlib.sha256(tenant_id.encode('utf-8')).hexdigest()[:16]}"
    return stem


def _legacy_file_stem(tenant_id: str) -> str:
    """The stem before the SPEC 6 revision of 2026-11-29 (no hidden-file or length rule): the
    names of month folders finalized before it, which stay as they are."""
    if tenant_id in (".", ".."):
        return "%2E" * len(tenant_id)
    stem = "".join(chr(b) if b in _SAFE_BYTES else f"%{b:02X}" for b in tenant_id.encode("utf-8"))
    if stem.casefold() in _RESERVED_STEMS:
        stem = f"%{ord(stem[0]):02X}{stem[1:]}"
    return stem


def final_invoice_file(folder: Path, tenant_id: str) -> Path:
    """A final month's JSON invoice of a tenant, under the current name or, for a month
    finalized before the naming rule changed, under the name it was written with."""
    current = folder / f"{invoice_file_stem(tenant_id)}.json"
    legacy = folder / f"{_legacy_file_stem(tenant_id)}.json"
    return legacy if not current.exists() and legacy.exists() else current


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """The SPEC 6 JSON object of `invoice`: amounts with exactly two decimals, quantities exact
    without trailing zeros, timestamps `YYYY-MM-DDTHH:MM:SSZ`; keys in SPEC 6 order."""
    return {
        "schema_version": invoice.schema_version,
        "invoice_number": invoice.invoice_number,
        "status": invoice.status,
        "tenant_id": invoice.tenant_id,
        "plan": invoice.plan,
        "currency": invoice.currency,
        "period": {
            "start": utc_timestamp(invoice.period_start),
            "end": utc_timestamp(invoice.period_end),
        },
        "usage": {meter: quantity_text(q) for meter, q in invoice.usage.items()},
        "lines": [line_json(line) for line in invoice.lines],
        "monthly_fee": _cents(invoice.monthly_fee),
        "usage_subtotal": _cents(invoice.usage_subtotal),
        "discount": _cents(invoice.discount),
        "true_up": _cents(invoice.true_up),
        "total": _cents(invoice.total),
        "alerts": [
            {
                "meter": alert.meter,
                "threshold": format(alert.threshold, "f"),
                "usage": quantity_text(alert.usage),
                "included": quantity_text(alert.included),
            }
            for alert in invoice.alerts
        ],
        "generated_at": utc_timestamp(invoice.generated_at),
    }


def invoice_from_json(document: Mapping[str, Any]) -> Invoice:
    """The `Invoice` of a stored SPEC 6 JSON object (`invoice_json` read back): every amount and
    quantity as the exact `Decimal` of its string."""
    return Invoice(
        schema_version=document["schema_version"],
        invoice_number=document["invoice_number"],
        status=document["status"],
        tenant_id=document["tenant_id"],
        plan=document["plan"],
        currency=document["currency"],
        period_start=date.fromisoformat(document["period"]["start"][:10]),
        period_end=date.fromisoformat(document["period"]["end"][:10]),
        usage={meter: Decimal(q) for meter, q in document["usage"].items()},
        lines=tuple(line_from_json(line) for line in document["lines"]),
        monthly_fee=Decimal(document["monthly_fee"]),
        usage_subtotal=Decimal(document["usage_subtotal"]),
        discount=Decimal(document["discount"]),
        true_up=Decimal(document["true_up"]),
        total=Decimal(document["total"]),
        alerts=tuple(
            Alert(a["meter"], Decimal(a["threshold"]), Decimal(a["usage"]), Decimal(a["included"]))
            for a in document["alerts"]
        ),
        generated_at=datetime.fromisoformat(
            document["generated_at"].replace("Z", "+00:00")
        ).astimezone(UTC),
    )


# the keys of a line in SPEC 6 order; a line has those of its type (the fields that are not None)
_LINE_KEYS = (
    "type",
    "description",
    "meter",
    "adjusts_invoice",
    "adjusts_period",
    "quantity",
    "included",
    "billable_quantity",
    "unit_price",
    "tiers",
    "amount",
)
_LINE_DECIMALS = frozenset({"quantity", "included", "billable_quantity", "unit_price"})


def line_json(line: Line) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key in _LINE_KEYS:
        value = getattr(line, key)
        if value is None:
            continue
        if key in _LINE_DECIMALS:
            value = quantity_text(value)
        elif key == "amount":
            value = _cents(value)
        elif key == "tiers":
            value = [
                {
                    "up_to": None if t.up_to is None else quantity_text(t.up_to),
                    "unit_price": quantity_text(t.unit_price),
                    "quantity": quantity_text(t.quantity),
                    "amount": _cents(t.amount),
                }
                for t in value
            ]
        document[key] = value
    return document


def line_from_json(document: Mapping[str, Any]) -> Line:
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key in _LINE_DECIMALS or key == "amount":
            value = Decimal(value)
        elif key == "tiers":
            value = tuple(
                Tier(
                    None if t["up_to"] is None else Decimal(t["up_to"]),
                    Decimal(t["unit_price"]),
                    Decimal(t["quantity"]),
                    Decimal(t["amount"]),
                )
                for t in value
            )
        values[key] = value
    return Line(**values)


def _cents(amount: Decimal) -> str:
    """An amount's SPEC 6 string with exactly two decimals. Amounts are rounded by rating, where
    SPEC 4 says: one that is not a whole number of cents here is a bug, never rounded away."""
    if amount.as_tuple().exponent == -2 and not (amount.is_zero() and amount.is_signed()):
        return format(amount, "f")  # what rating's `round_money` gives: written as it is
    if amount != round_money(amount):
        raise ValueError(f"amount {amount} is not rounded to cents")
    return money_text(amount)


def invoice_line_rows(invoice: Invoice) -> list[dict[str, Any]]:
    """One row per invoice line with the `LINE_COLUMNS` (`<tenant>.csv`, `fct_invoice_lines`).

    Values are the invoice's SPEC 6 strings (None when a column does not apply); graduated tiers
    are flattened into `tiers` as `0-100000: 100000 x 0.01 = 1000.00; 100000+: 2000 x 0.008 =
    16.00`.
    """
    return _line_rows(invoice, invoice_json(invoice))


def _line_rows(invoice: Invoice, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`invoice_line_rows` from the invoice's SPEC 6 object `document` (`invoice_json`)."""
    invoice_columns = {
        "invoice_number": invoice.invoice_number,
        "tenant_id": invoice.tenant_id,
        "period": invoice.month,
        "status": invoice.status,
    }
    rows = []
    for line_no, (line, text) in enumerate(zip(invoice.lines, document["lines"], strict=True), 1):
        tiers = text.get("tiers")
        rows.append(
            {
                **invoice_columns,
                "line_no": line_no,
                "type": line.type,
                "meter": line.meter,
                "description": line.description,
                "adjusts_period": line.adjusts_period,
                "adjusts_invoice": line.adjusts_invoice,
                "quantity": text.get("quantity"),
                "included": text.get("included"),
                "billable_quantity": text.get("billable_quantity"),
                "unit_price": text.get("unit_price"),
                "tiers": None
                if line.tiers is None
                else "; ".join(
                    f"{band}: {t['quantity']} x {t['unit_price']} = {t['amount']}"
                    for band, t in zip(tier_bands(line.tiers), tiers, strict=True)
                ),
                "amount": text["amount"],
            }
        )
    return rows


def write_month_folder(
    folder: Path,
    invoices: Sequence[Invoice],
    unbilled: Sequence[Mapping[str, str]],
) -> list[list[dict[str, Any]]]:
    """Write every file of the month, remove files of tenants no longer invoiced, manifest last;
    returns each invoice's `invoice_line_rows` (the rows of its CSV file)."""
    # fpdf2 (with fontTools) takes ~1 s to import: only invoicing pays for it, not every command
    from orchestration.billing.pdf import render_invoice_pdf

    files: dict[str, bytes] = {}
    summary, line_rows = [], []
    for invoice in invoices:
        stem = invoice_file_stem(invoice.tenant_id)
        document = invoice_json(invoice)
        rows = _line_rows(invoice, document)
        line_rows.append(rows)
        files[f"{stem}.json"] = json_bytes(document)
        files[f"{stem}.csv"] = _csv_bytes(LINE_COLUMNS, rows)
        files[f"{stem}.pdf"] = render_invoice_pdf(invoice)
        summary.append({column: document[column] for column in SUMMARY_COLUMNS})
    files["summary.csv"] = _csv_bytes(SUMMARY_COLUMNS, summary)
    files["unbilled.csv"] = _csv_bytes(UNBILLED_COLUMNS, unbilled)
    manifest = {
        "files": [
            {"name": name, "sha256": hashlib.sha256(files[name]).hexdigest()}
            for name in sorted(files)
        ]
    }

    folder.mkdir(parents=True, exist_ok=True)
    keep = {*files, MANIFEST}
    with os.scandir(folder) as entries:
        stale = [entry.path for entry in entries if entry.is_file() and entry.name not in keep]
    for path in stale:
        os.unlink(path)
    _write_all_atomic(folder, files)
    write_atomic(folder / MANIFEST, json_bytes(manifest))
    fsync_directory(folder)
    return line_rows


def json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _csv_bytes(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: _csv_safe(value) for column, value in row.items()} for row in rows)
    return buffer.getvalue().encode("utf-8")


def _csv_safe(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return _CONTROL_CHARACTERS.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), value)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, then rename over `path`: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    _write_synced(temporary, data)
    os.replace(temporary, path)


def _write_all_atomic(folder: Path, files: Mapping[str, bytes]) -> None:
    """`_write_atomic` of many files of `folder`: every temporary sibling is written and fsynced,
    on threads (an fsync waits for the disk, not the CPU, and concurrent fsyncs share the file
    system's journal commits: about 2x faster than one after the other), then each is renamed."""
    temporaries = [_temporary(folder / name) for name in files]
    with ThreadPoolExecutor(_SYNC_THREADS) as pool:
        list(pool.map(_write_synced, temporaries, files.values()))
    for temporary, name in zip(temporaries, files, strict=True):
        os.replace(temporary, folder / name)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_directory(folder: Path) -> None:
    """Make the renames in `folder` durable (the month's files before its ledger file)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
