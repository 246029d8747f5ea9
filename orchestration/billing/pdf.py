"""Person-readable PDF rendering of a SPEC §6 invoice (fpdf2, core fonts, byte-stable output)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from orchestration.billing.rating import quantity_text, tier_bands

_FONT = "Helvetica"
_COLUMNS = ("Line", "Quantity", "Included", "Billable", "Unit price", "Amount")
_COLUMN_WIDTHS = (62, 26, 24, 26, 18, 24)
_DETAIL_STYLE = FontFace(emphasis="ITALICS", color=(90, 90, 90))


def _printable(text: Any) -> str:
    """Text the core fonts can draw: latin-1 printable characters kept, anything else escaped."""
    return "".join(
        char if char.isprintable() and ord(char) < 256 else char.encode("unicode_escape").decode()
        for char in str(text)
    )


def _table_rows(invoice: Mapping[str, Any]) -> list[tuple[tuple[str, ...], bool]]:
    """(cells, is_detail) per table row: one per invoice line, plus one per graduated tier."""
    rows: list[tuple[tuple[str, ...], bool]] = []
    for line in invoice["lines"]:
        if line["type"] == "usage":
            rows.append(
                (
                    (
                        line["meter"],
                        line["quantity"],
                        line["included"],
                        line["billable_quantity"],
                        line.get("unit_price", "tiered"),
                        line["amount"],
                    ),
                    False,
                )
            )
            tiers = line.get("tiers", [])
            for band, tier in zip(tier_bands(tiers), tiers, strict=True):
                cells = (
                    f"  tier {band}",
                    tier["quantity"],
                    "",
                    "",
                    tier["unit_price"],
                    tier["amount"],
                )
                rows.append((cells, True))
        elif line["type"] == "adjustment":
            label = (
                f"{line['meter']}: late usage of {line['adjusts_period']} "
                f"({line['adjusts_invoice']})"
            )
            rows.append(((label, line["quantity"], "", "", "", line["amount"]), False))
        else:
            rows.append(((line["description"], "", "", "", "", line["amount"]), False))
    return rows


def render_invoice_pdf(invoice: Mapping[str, Any]) -> bytes:
    """Render the invoice as a PDF: header, tenant, period, plan, lines with tiers, totals, alerts.

    The PDF's creation date is the invoice's `generated_at`, so the same invoice always renders to
    the same bytes. Text the core fonts cannot draw is shown escaped (`\\u65e5`), never dropped.
    """
    generated_at = datetime.fromisoformat(invoice["generated_at"].replace("Z", "+00:00"))
    start = date.fromisoformat(invoice["period"]["start"][:10])
    last_day = date.fromisoformat(invoice["period"]["end"][:10]) - timedelta(days=1)
    number = invoice["invoice_number"]
    currency = invoice["currency"]

    pdf = FPDF(format="A4")
    pdf.set_creation_date(generated_at)
    pdf.set_title(_printable(f"Meterline invoice {number or 'DRAFT'} {invoice['tenant_id']}"))
    pdf.set_author("Meterline")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    pdf.set_font(_FONT, "B", 20)
    pdf.cell(0, 10, "Meterline", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "B", 14)
    heading = f"Invoice {number}" if number else "DRAFT invoice (not final, no number yet)"
    pdf.cell(0, 9, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 10)
    details = (
        ("Tenant", invoice["tenant_id"]),
        ("Plan", invoice["plan"]),
        ("Period", f"{start:%Y-%m} ({start} to {last_day}, UTC)"),
        ("Status", invoice["status"]),
        ("Currency", currency),
        ("Generated", invoice["generated_at"]),
    )
    for label, value in details:
        pdf.multi_cell(0, 6, _printable(f"{label}: {value}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    pdf.set_font(_FONT, "", 9)
    with pdf.table(
        col_widths=_COLUMN_WIDTHS,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=6,
    ) as table:
        table.row(_COLUMNS)
        for cells, is_detail in _table_rows(invoice):
            row = table.row()
            for cell in cells:
                row.cell(_printable(cell), style=_DETAIL_STYLE if is_detail else None)
    pdf.ln(4)

    pdf.set_font(_FONT, "", 10)
    totals = (
        ("Monthly fee", invoice["monthly_fee"]),
        ("Usage subtotal", invoice["usage_subtotal"]),
        ("Discount", invoice["discount"]),
        ("Minimum commitment true-up", invoice["true_up"]),
    )
    for label, amount in totals:
        pdf.cell(150, 6, label, align="R")
        pdf.cell(0, 6, f"{amount} {currency}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "B", 11)
    pdf.cell(150, 8, "Total", align="R")
    pdf.cell(0, 8, f"{invoice['total']} {currency}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if invoice["alerts"]:
        pdf.ln(4)
        pdf.set_font(_FONT, "B", 11)
        pdf.cell(0, 7, "Alerts", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FONT, "", 10)
        for alert in invoice["alerts"]:
            share = quantity_text(Decimal(alert["threshold"]) * 100)
            text = (
                f"{alert['meter']}: usage {alert['usage']} reached {share}% "
                f"of the {alert['included']} included"
            )
            pdf.multi_cell(0, 6, _printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
