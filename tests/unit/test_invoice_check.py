"""The invoices asset check: usage equals tenant_monthly_usage, totals equal the sum of lines."""

from decimal import Decimal
from pathlib import Path

from orchestration.billing.invoice_files import invoice_from_json
from orchestration.billing.lifecycle import IssueResult
from orchestration.defs.invoicing.assets import invoice_problems


def invoice(total="260.00", usage=None):
    # fee 250.00 + one usage line 10.00 = 260.00
    return invoice_from_json(
        {
            "schema_version": 1,
            "invoice_number": None,
            "status": "draft",
            "tenant_id": "acme",
            "plan": "starter",
            "currency": "USD",
            "period": {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
            "usage": usage if usage is not None else {"api_call": "2000"},
            "lines": [
                {"type": "fee", "description": "Starter monthly fee", "amount": "250.00"},
                {
                    "type": "usage",
                    "meter": "api_call",
                    "quantity": "2000",
                    "included": "1000",
                    "billable_quantity": "1000",
                    "unit_price": "0.01",
                    "amount": "10.00",
                },
            ],
            "monthly_fee": "250.00",
            "usage_subtotal": "10.00",
            "discount": "0.00",
            "true_up": "0.00",
            "total": total,
            "alerts": [],
            "generated_at": "2026-10-20T00:00:00Z",
        }
    )


def result(status, *invoices):
    return IssueResult(status, "2026-10", Path("."), list(invoices), [], [])


USAGE = {("acme", "2026-10"): {"api_call": Decimal("2000")}}


def test_a_consistent_invoice_has_no_problem():
    assert invoice_problems(result("draft", invoice()), USAGE) == []


def test_a_total_that_is_not_the_sum_of_the_lines_is_reported():
    problems = invoice_problems(result("draft", invoice(total="261.00")), USAGE)
    assert len(problems) == 1 and problems[0].startswith("acme:")


def test_invoice_usage_must_equal_the_monthly_mart_for_invoices_written_now():
    other = {("acme", "2026-10"): {"api_call": Decimal("2001")}}
    assert len(invoice_problems(result("final", invoice()), other)) == 1
    # a month finalized by an earlier run keeps its usage; later usage becomes adjustments
    assert invoice_problems(result("already_final", invoice()), other) == []
