"""The month at a glance in a real browser (SPEC 6): Debian's chromium driven by Playwright opens
`reports/YYYY-MM.html` from disk, with every network request refused and recorded.

The report is written by `write_month_report` from two hand-made invoices and a small published
marts file, so the test needs no pipeline run. The screenshot is kept as a test artifact
(`$METERLINE_TEST_ARTIFACTS`, else `test-artifacts/` in the repository).
"""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from orchestration.billing.catalog import load_catalog
from orchestration.billing.month_report import write_month_report
from orchestration.billing.rating import rate_invoice

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("METERLINE_TEST_ARTIFACTS", REPO / "test-artifacts"))


def published_marts(path: Path) -> None:
    """tenant_daily_usage and fct_usage_records for two tenants over three days of October."""
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE tenant_daily_usage (usage_date DATE, tenant_id VARCHAR, meter VARCHAR, "
        "quantity DECIMAL(38, 12), record_count BIGINT)"
    )
    con.execute(
        "CREATE TABLE fct_usage_records (record_key VARCHAR, tenant_id VARCHAR, meter VARCHAR, "
        "quantity DECIMAL(38, 12), event_time TIMESTAMPTZ, cost_usd DECIMAL(38, 12))"
    )
    for day in (1, 2, 3):
        for tenant, calls in (("acme", 400 * day), ("globex", 100 * day)):
            con.execute(
                "INSERT INTO tenant_daily_usage VALUES (?, ?, 'api_call', ?, 1)",
                [date(2026, 10, day), tenant, calls],
            )
            con.execute(
                "INSERT INTO fct_usage_records VALUES (?, ?, 'llm_input_tokens', 1000, ?, ?)",
                [f"k{tenant}{day}", tenant, datetime(2026, 10, day, 12), Decimal("1.25")],
            )
    con.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    (home / "catalog.yml").write_text(
        (REPO / "tests/billing/data/spec_catalog.yml").read_text(), encoding="utf-8"
    )
    catalog = load_catalog(None, home)
    marts = home / "published" / "marts.duckdb"
    marts.parent.mkdir(parents=True)
    published_marts(marts)
    now = datetime(2026, 11, 4, 2)
    invoices = [
        rate_invoice(catalog, tenant, "2026-10", usage, [], now, "final", number)
        for tenant, usage, number in (
            ("acme", {"api_call": Decimal(2400), "traces": Decimal(240000)}, "INV-202610-0001"),
            ("globex", {"api_call": Decimal(600)}, "INV-202610-0002"),
        )
        if catalog.plan_for(tenant, date(2026, 10, 1))
    ]
    assert [i.tenant_id for i in invoices] == ["acme"]  # the SPEC catalog subscribes acme
    result = SimpleNamespace(status="final", invoices=invoices, unbilled=[])
    return write_month_report(home, "2026-10", result, catalog, marts)


def test_the_report_renders_its_charts_offline(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        "install Debian chromium: make install (apt-get install chromium)"
    )
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def refuse_network(route) -> None:
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    requests.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse_network)
            page.on(
                "request",
                lambda r: None if r.url.startswith("file://") else requests.append(r.url),
            )
            page.goto(report.as_uri())
            page.wait_for_selector(".plot-container svg.main-svg", timeout=30_000)
            charts = page.locator("div.js-plotly-plot")
            rendered = page.locator("div.js-plotly-plot svg.main-svg")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-2026-10.png"), full_page=True)
            chart_count = charts.count()
            svg_count = rendered.count()
            pdf_links = page.locator("a[href$='.pdf']").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
            alert_rows = page.locator("tr.alert-100, tr.alert-90").count()
            page_text = page.inner_text("body")
        finally:
            browser.close()

    assert requests == [], f"the report fetched from the network: {requests}"
    # included-quantity chart + one daily chart (api_call) + billed vs provider cost
    assert chart_count == 3
    assert svg_count >= chart_count
    assert pdf_links == ["../invoices/2026-10/acme.pdf"]  # globex has no plan: no invoice
    assert alert_rows >= 1  # acme's 240000 traces pass 90% of the 250000 included
    for heading in (
        "Totals by status and plan",
        "Invoices",
        "Usage against included quantities",
        "Daily usage",
        "Provider cost and margin",
        "Unpriced usage",
    ):
        assert heading in page_text
