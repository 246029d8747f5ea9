"""PDF invoices: readable content, non-latin-1 tenant ids, byte-stable output."""

from __future__ import annotations

import io
import json

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from orchestration.billing.invoice_files import invoice_from_json
from orchestration.billing.pdf import _wrap, render_invoice_pdf


def render(document: dict) -> bytes:
    """The PDF of the invoice whose SPEC 6 JSON object is `document`."""
    return render_invoice_pdf(invoice_from_json(document))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def spec_invoice(spec_invoice_json):
    return json.loads(spec_invoice_json)


def test_pdf_shows_number_tenant_period_plan_lines_totals_and_alerts(spec_invoice):
    text = pdf_text(render(spec_invoice))
    for expected in (
        "Meterline",
        "Invoice INV-202610-0001",
        "Tenant: acme",
        "Plan: growth",
        "2026-10-01 to 2026-10-31",
        "Growth monthly fee",
        "tier 0-100000",
        "tier 100000+",
        "traces: late usage of 2026-09",
        "(INV-202609-0004)",
        "Volume discount 5%",
        "1721.79 USD",
        "api_call: usage 103000 reached 90% of the 1000 included",
        "traces: usage 261337 reached 100% of the 250000 included",
    ):
        assert expected in text
    assert "DRAFT" not in text


def test_draft_pdf_says_draft(spec_invoice):
    draft = spec_invoice | {"invoice_number": None, "status": "draft"}
    assert "DRAFT" in pdf_text(render(draft))


@pytest.mark.parametrize(
    ("tenant_id", "shown"),
    [
        ("日本-テナント", r"\u65e5\u672c-\u30c6\u30ca\u30f3\u30c8"),
        ("emoji-🚀", r"emoji-\U0001f680"),
        ("tab\there", r"tab\there"),
        ("ŁódźCo", r"\u0141ód\u017aCo"),  # ó is latin-1: kept
    ],
)
def test_tenant_ids_outside_latin1_render_escaped(spec_invoice, tenant_id, shown):
    text = pdf_text(render(spec_invoice | {"tenant_id": tenant_id}))
    assert f"Tenant: {shown}" in text


def test_latin1_tenant_ids_render_as_is(spec_invoice):
    assert "Tenant: Société Générale" in pdf_text(
        render(spec_invoice | {"tenant_id": "Société Générale"})
    )


def test_pdf_bytes_depend_only_on_the_invoice(spec_invoice):
    first, second = render(spec_invoice), render(dict(spec_invoice))
    assert first == second
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata.creation_date.isoformat() == "2026-11-04T02:00:00+00:00"
    later = render(spec_invoice | {"generated_at": "2026-11-05T02:00:00Z"})
    assert later != first


def test_a_long_invoice_continues_on_new_pages_under_the_headings(spec_invoice):
    periods = [f"{year}-{month:02d}" for year in (2024, 2025) for month in range(1, 13)]
    adjustments = [
        {
            "type": "adjustment",
            "meter": meter,
            "adjusts_invoice": f"INV-{period.replace('-', '')}-0001",
            "adjusts_period": period,
            "quantity": "1",
            "amount": "0.00",
        }
        for period in periods
        for meter in ("api_call", "traces")
    ]
    lines = spec_invoice["lines"]
    long_invoice = spec_invoice | {"lines": lines[:-1] + adjustments + lines[-1:]}
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(render(long_invoice))).pages]
    assert len(pages) >= 3
    assert all("Line Quantity Included Billable Unit price Amount" in page for page in pages[:-1])
    text = "\n".join(pages)
    for period in periods:
        assert f"api_call: late usage of {period}" in text
        assert f"traces: late usage of {period}" in text
        assert f"(INV-{period.replace('-', '')}-0001)" in text
    assert "Volume discount 5%" in text and "1721.79 USD" in pages[-1]


def test_text_wider_than_its_box_wraps_without_losing_a_character(spec_invoice):
    tenant = "a tenant id with many words " * 8 + "x" * 150
    text = pdf_text(render(spec_invoice | {"tenant_id": tenant}))
    assert "".join(f"Tenant: {tenant}".split()) in "".join(text.split())


@pytest.mark.parametrize(
    "text",
    [
        "fits",
        "traces: late usage of 2026-09 (INV-202609-0004)",
        "1234567890" * 8,
        "  tier 0-100000",
    ],
)
def test_wrapped_lines_fit_their_box_and_keep_the_text(text):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "", 9)
    width = 30
    lines = _wrap(pdf, text, width)
    assert all(pdf.get_string_width(line) <= width - 2 * pdf.c_margin for line in lines)
    assert "".join(lines) == text or " ".join(lines) == text
