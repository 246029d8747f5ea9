"""`meterline simulate` (SPEC 8): what a month would have cost under another catalog.

The month's usage (from the published marts) is priced under the current catalog and under OTHER
with the same rules as an invoice (fee, usage, discount, true-up; no adjustment lines, which belong
to the billing history and not to a price list). Writes only under
`simulations/YYYY-MM/<OTHER stem>/`: never `invoices/`, the billing state or a published table.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from orchestration.billing.catalog import Catalog
from orchestration.billing.invoice import Invoice
from orchestration.billing.invoice_files import invoice_file_stem, invoice_json
from orchestration.billing.rating import ZERO, money_text, period_bounds, rate_invoice

DIFF_COLUMNS = ("tenant_id", "plan", "total", "simulated_plan", "simulated_total", "difference")
SIMULATED = "simulated"


def price_month(
    catalog: Catalog, month: str, usage: Mapping[str, Mapping[str, Decimal]], now: datetime
) -> dict[str, Invoice]:
    """tenant -> invoice (status `simulated`, no number) for every tenant `catalog` would invoice:
    tenants with usage in `usage` (tenant -> meter -> quantity) or a subscription, with a plan."""
    start, _ = period_bounds(month)
    tenants = {t for t, u in usage.items() if u} | set(catalog.subscribed_tenants(start))
    return {
        tenant: rate_invoice(
            catalog, tenant, month, usage.get(tenant, {}), [], now, SIMULATED, None
        )
        for tenant in sorted(tenants, key=lambda t: t.encode("utf-8"))
        if catalog.plan_for(tenant, start) is not None
    }


def simulate_month(
    home: Path,
    month: str,
    now: datetime,
    current: Catalog,
    other: Catalog,
    stem: str,
    monthly_usage: Mapping[tuple[str, str], Mapping[str, Decimal]],
) -> Path:
    """Write `home/simulations/<month>/<stem>/`: each OTHER invoice and `diff.csv`; returns it."""
    usage = {tenant: u for (tenant, period), u in monthly_usage.items() if period == month}
    now_invoices = price_month(current, month, usage, now)
    simulated = price_month(other, month, usage, now)
    files = {
        f"{invoice_file_stem(t)}.json": (
            json.dumps(invoice_json(i), indent=2, ensure_ascii=False) + "\n"
        )
        for t, i in simulated.items()
    }
    rows = []
    for tenant in sorted(set(now_invoices) | set(simulated), key=lambda t: t.encode("utf-8")):
        before, after = now_invoices.get(tenant), simulated.get(tenant)
        difference = (after.total if after else ZERO) - (before.total if before else ZERO)
        rows.append(
            {
                "tenant_id": tenant,
                "plan": before.plan if before else "",
                "total": money_text(before.total) if before else "",
                "simulated_plan": after.plan if after else "",
                "simulated_total": money_text(after.total) if after else "",
                "difference": money_text(difference),
            }
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=DIFF_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files["diff.csv"] = buffer.getvalue()

    target = home / "simulations" / month / stem
    staging = target.with_name(f".{stem}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    # the folder is replaced whole: tenants of an earlier simulation never linger
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return target
