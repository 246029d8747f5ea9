"""Person-readable PDF rendering of a SPEC §6 `Invoice` (fpdf2, core fonts, byte-stable output).

The page is laid out with fpdf2's direct drawing calls (`text`, `line`) and the core fonts'
character widths: fpdf2's `table`, `multi_cell` and `cell` run a line breaker over every
character, twice per table cell, which cost ~20 ms per invoice (about 1 ms this way), 20x the
rest of the invoice. Text wider than its box (long tenant ids, adjustment labels) is wrapped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fpdf import FPDF

from orchestration.billing.invoice import Invoice
from orchestration.billing.rating import money_text, quantity_text, tier_bands, utc_timestamp

_FONT = "Helvetica"
_COLUMNS = ("Line", "Quantity", "Included", "Billable", "Unit price", "Amount")
_COLUMN_WIDTHS = (66.0, 27.0, 25.0, 27.0, 20.0, 25.0)  # mm, the A4 width inside the margins
_COLUMN_ALIGNS = ("L", "R", "R", "R", "R", "R")
_TABLE_FONT_SIZE = 9
_ROW_LINE_HEIGHT = 6.0
_DETAIL_COLOR = 90  # grey of the tier rows under a graduated usage line
_TOTALS_LABEL_WIDTH = 150.0
_BOTTOM_MARGIN = 15.0

# table row styles: headings bold, lines regular, graduated tiers italic grey
_HEADING, _LINE, _DETAIL = "B", "", "I"


def _printable(text: Any) -> str:
    """Text the core fonts can draw: latin-1 printable characters kept, anything else escaped."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        char if char.isprintable() and ord(char) < 256 else char.encode("unicode_escape").decode()
        for char in text
    )


def _quantity(quantity: Decimal | None) -> str:
    return "" if quantity is None else quantity_text(quantity)


def _table_rows(invoice: Invoice) -> list[tuple[tuple[str, ...], str]]:
    """(cells, style) per table row: one per invoice line, plus one per graduated tier; numbers
    as the invoice's JSON writes them."""
    rows: list[tuple[tuple[str, ...], str]] = []
    for line in invoice.lines:
        if line.type == "usage":
            cells = (
                line.meter or "",
                _quantity(line.quantity),
                _quantity(line.included),
                _quantity(line.billable_quantity),
                "tiered" if line.unit_price is None else quantity_text(line.unit_price),
                money_text(line.amount),
            )
            rows.append((cells, _LINE))
            tiers = line.tiers or ()
            for band, tier in zip(tier_bands(tiers), tiers, strict=True):
                cells = (
                    f"  tier {band}",
                    quantity_text(tier.quantity),
                    "",
                    "",
                    quantity_text(tier.unit_price),
                    money_text(tier.amount),
                )
                rows.append((cells, _DETAIL))
        elif line.type == "adjustment":
            label = f"{line.meter}: late usage of {line.adjusts_period} ({line.adjusts_invoice})"
            cells = (label, _quantity(line.quantity), "", "", "", money_text(line.amount))
            rows.append((cells, _LINE))
        else:
            rows.append(((line.description or "", "", "", "", "", money_text(line.amount)), _LINE))
    return rows


def _width(pdf: FPDF, text: str) -> float:
    """Width of `text` in the current core font, straight from its character widths: fpdf2's
    `get_string_width` first splits the text into styled fragments, 20x slower."""
    assert pdf.current_font is not None
    return pdf.current_font.get_text_width(text, pdf.font_size_pt, None)[1] / pdf.k


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """The lines of `text` in a box `width` wide (cell margins inside): broken at spaces, and a
    word wider than the box between characters."""
    room = width - 2 * pdf.c_margin
    if _width(pdf, text) <= room:
        return [text]
    lines: list[str] = []
    line: str | None = None
    for word in text.split(" "):
        candidate = word if line is None else f"{line} {word}"
        if _width(pdf, candidate) <= room:
            line = candidate
            continue
        if line is not None:
            lines.append(line)
        while len(word) > 1 and _width(pdf, word) > room:
            cut = 1
            while cut < len(word) - 1 and _width(pdf, word[: cut + 1]) <= room:
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line or "")
    return lines


def _draw_line(
    pdf: FPDF, x: float, top: float, width: float, height: float, text: str, align: str = "L"
) -> None:
    """One line of text in the box (x, top, width, height), vertically centred as fpdf2's
    `cell` places it, left or right aligned within the cell margins."""
    if align == "R":
        x += width - pdf.c_margin - _width(pdf, text)
    else:
        x += pdf.c_margin
    pdf.text(x, top + 0.5 * height + 0.3 * pdf.font_size, text)


def _paragraph(pdf: FPDF, height: float, text: str) -> None:
    """Text across the page width at the cursor, wrapped, each line `height` high."""
    for line in _wrap(pdf, _printable(text), pdf.epw):
        if pdf.will_page_break(height):
            pdf.add_page()
        _draw_line(pdf, pdf.l_margin, pdf.y, pdf.epw, height, line)
        pdf.set_y(pdf.y + height)


def _table(pdf: FPDF, rows: Sequence[tuple[Sequence[str], str]]) -> None:
    """The lines table at the cursor, in a grid; a row that does not fit on the page starts a
    new one, under the headings again. A row is as high as its tallest (wrapped) cell."""
    top = _table_row(pdf, _COLUMNS, _HEADING)
    for cells, style in rows:
        pdf.set_font(_FONT, style, _TABLE_FONT_SIZE)
        cell_lines = [
            _wrap(pdf, _printable(cell), width)
            for cell, width in zip(cells, _COLUMN_WIDTHS, strict=True)
        ]
        if pdf.will_page_break(_ROW_LINE_HEIGHT * max(len(lines) for lines in cell_lines)):
            _grid(pdf, top)
            pdf.add_page()
            top = _table_row(pdf, _COLUMNS, _HEADING)
            pdf.set_font(_FONT, style, _TABLE_FONT_SIZE)
        pdf.set_text_color(_DETAIL_COLOR if style == _DETAIL else 0)
        _table_row(pdf, cell_lines, style)
    pdf.set_text_color(0)
    _grid(pdf, top)


def _table_row(pdf: FPDF, cells: Sequence[str | list[str]], style: str) -> float:
    """Draw the text of a row (cells: text, or its wrapped lines) and the rule under it, move the
    cursor below it; returns the row's top."""
    pdf.set_font(_FONT, style, _TABLE_FONT_SIZE)
    cell_lines = [[cell] if isinstance(cell, str) else cell for cell in cells]
    height = _ROW_LINE_HEIGHT * max(len(lines) for lines in cell_lines)
    x, top = pdf.l_margin, pdf.y
    for lines, width, align in zip(cell_lines, _COLUMN_WIDTHS, _COLUMN_ALIGNS, strict=True):
        y = top + (height - _ROW_LINE_HEIGHT * len(lines)) / 2
        for line in lines:
            if line:
                _draw_line(pdf, x, y, width, _ROW_LINE_HEIGHT, line, align)
            y += _ROW_LINE_HEIGHT
        x += width
    pdf.line(pdf.l_margin, top + height, x, top + height)
    pdf.set_y(top + height)
    return top


def _grid(pdf: FPDF, top: float) -> None:
    """The table's top rule and column rules, from `top` down to the cursor (rows draw the rules
    under them): 8 strokes per page instead of a rectangle per cell."""
    right = pdf.l_margin + sum(_COLUMN_WIDTHS)
    pdf.line(pdf.l_margin, top, right, top)
    x = pdf.l_margin
    for width in (0, *_COLUMN_WIDTHS):
        x += width
        pdf.line(x, top, x, pdf.y)


def _amount_row(pdf: FPDF, height: float, label: str, amount: str) -> None:
    """A totals row: label right-aligned in the left part, amount right-aligned at the margin."""
    if pdf.will_page_break(height):
        pdf.add_page()
    _draw_line(pdf, pdf.l_margin, pdf.y, _TOTALS_LABEL_WIDTH, height, label, "R")
    amount_width = pdf.epw - _TOTALS_LABEL_WIDTH
    _draw_line(pdf, pdf.l_margin + _TOTALS_LABEL_WIDTH, pdf.y, amount_width, height, amount, "R")
    pdf.set_y(pdf.y + height)


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """Render the invoice as a PDF: header, tenant, period, plan, lines with tiers, totals, alerts.

    The PDF's creation date is the invoice's `generated_at`, so the same invoice always renders to
    the same bytes. Text the core fonts cannot draw is shown escaped (`\\u65e5`), never dropped.
    """
    generated_at = invoice.generated_at
    start = invoice.period_start
    last_day = invoice.period_end - timedelta(days=1)
    number = invoice.invoice_number
    currency = invoice.currency

    pdf = FPDF(format="A4")
    pdf.set_creation_date(generated_at)
    pdf.set_title(_printable(f"Meterline invoice {number or 'DRAFT'} {invoice.tenant_id}"))
    pdf.set_author("Meterline")
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM_MARGIN)
    pdf.add_page()

    pdf.set_font(_FONT, "B", 20)
    _paragraph(pdf, 10, "Meterline")
    pdf.set_font(_FONT, "B", 14)
    _paragraph(
        pdf, 9, f"Invoice {number}" if number else "DRAFT invoice (not final, no number yet)"
    )
    pdf.set_font(_FONT, "", 10)
    details = (
        ("Tenant", invoice.tenant_id),
        ("Plan", invoice.plan),
        ("Period", f"{start:%Y-%m} ({start} to {last_day}, UTC)"),
        ("Status", invoice.status),
        ("Currency", currency),
        ("Generated", utc_timestamp(generated_at)),
    )
    for label, value in details:
        _paragraph(pdf, 6, f"{label}: {value}")
    pdf.ln(4)

    _table(pdf, _table_rows(invoice))
    pdf.ln(4)

    pdf.set_font(_FONT, "", 10)
    totals = (
        ("Monthly fee", invoice.monthly_fee),
        ("Usage subtotal", invoice.usage_subtotal),
        ("Discount", invoice.discount),
        ("Minimum commitment true-up", invoice.true_up),
    )
    for label, amount in totals:
        _amount_row(pdf, 6, label, f"{money_text(amount)} {currency}")
    pdf.set_font(_FONT, "B", 11)
    _amount_row(pdf, 8, "Total", f"{money_text(invoice.total)} {currency}")

    if invoice.alerts:
        pdf.ln(4)
        pdf.set_font(_FONT, "B", 11)
        _paragraph(pdf, 7, "Alerts")
        pdf.set_font(_FONT, "", 10)
        for alert in invoice.alerts:
            share = quantity_text(alert.threshold * 100)
            _paragraph(
                pdf,
                6,
                f"{alert.meter}: usage {quantity_text(alert.usage)} reached {share}% "
                f"of the {quantity_text(alert.included)} included",
            )
    return bytes(pdf.output())
