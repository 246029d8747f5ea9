"""The month at a glance (SPEC 6): `$METERLINE_HOME/reports/YYYY-MM.html`, written by every
`meterline invoice`.

One self-contained HTML file for finance and account managers: plotly.js is inlined once (no
network fetch, readable offline in any browser), every chart is drawn by plotly, tables are plain
HTML. Sections: totals by status and plan, the invoice list (linking to the PDFs by a path
relative to the report), each tenant's usage of every priced meter against its included quantity
with the 90% / 100% alerts marked, daily usage per meter, provider cost and margin per tenant,
and unpriced usage.
"""

from __future__ import annotations

import html
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from orchestration.billing.catalog import Catalog
from orchestration.billing.invoice import Invoice
from orchestration.billing.invoice_files import invoice_file_stem
from orchestration.billing.rating import ZERO, money_text, period_bounds

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d9e2ec; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d9e2ec; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.alert-100 { background: #ffe3e3; } .alert-90 { background: #fff3bf; }
.muted { color: #627d98; }
"""


def report_path(home: Path, month: str) -> Path:
    return home / "reports" / f"{month}.html"


def write_month_report(home: Path, month: str, result: Any, catalog: Catalog, marts: Path) -> Path:
    """Write the month's report from the invoices just issued (`IssueResult`) and the published
    marts (`marts`, may not exist yet); returns its path."""
    start, end = period_bounds(month)
    data = _MartsData(marts, start.isoformat(), end.isoformat())
    invoices = result.invoices
    charts = _Charts()
    sections = [
        _totals_section(invoices),
        _invoice_list_section(invoices, month),
        _included_section(invoices, catalog, charts),
        _daily_usage_section(data.daily_usage, charts),
        _margin_section(invoices, data.costs, charts),
        _unpriced_section(data),
    ]
    status = result.status.replace("already_final", "final")
    body = "\n".join(
        [
            f"<h1>Meterline — {html.escape(month)}</h1>",
            f"<p class='muted'>Invoices {html.escape(status)}; report generated "
            f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}; period {start} to {end} (UTC, half-open)."
            "</p>",
            *sections,
        ]
    )
    document = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Meterline {html.escape(month)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
    target = report_path(home, month)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, target)
    return target


class _Charts:
    """Plotly figures as HTML fragments; plotly.js is inlined with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, figure) -> str:
        self.count += 1
        return figure.to_html(
            full_html=False,
            include_plotlyjs=self.count == 1,
            div_id=f"chart-{self.count}",
            config={"displaylogo": False, "responsive": True},
        )


class _MartsData:
    """What the report reads from the published marts for the month."""

    def __init__(self, marts: Path, start: str, end: str) -> None:
        self.daily_usage: list[tuple] = []
        self.costs: dict[str, tuple[Decimal, int]] = {}
        self.unpriced: list[tuple] | None = None
        if not marts.exists():
            return
        con = duckdb.connect(str(marts), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            self.daily_usage = con.execute(
                "SELECT usage_date, tenant_id, meter, quantity FROM tenant_daily_usage "
                "WHERE usage_date >= CAST(? AS DATE) AND usage_date < CAST(? AS DATE) "
                "ORDER BY ALL",
                [start, end],
            ).fetchall()
            # known costs only; a record whose cost is unknown (NULL) is counted, never taken as 0
            self.costs = {
                tenant: (cost, unpriced)
                for tenant, cost, unpriced in con.execute(
                    "SELECT tenant_id, coalesce(sum(cost_usd), 0), count(*) - count(cost_usd) "
                    "FROM fct_usage_records WHERE event_time >= CAST(? AS TIMESTAMPTZ) "
                    "AND event_time < CAST(? AS TIMESTAMPTZ) GROUP BY 1",
                    [start, end],
                ).fetchall()
            }
            tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
            if "unpriced_usage" in tables:
                self.unpriced = con.execute(
                    "SELECT source, provider, model, items, input_tokens, output_tokens, "
                    "first_seen, last_seen FROM unpriced_usage ORDER BY items DESC LIMIT 50"
                ).fetchall()
        finally:
            con.close()


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric=(), classes=()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f" class='{classes[index]}'" if classes and classes[index] else ""
        cells = "".join(
            f"<td class='num'>{_cell(v)}</td>" if i in numeric else f"<td>{_cell(v)}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, _Raw):
        return value.markup
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return html.escape(format(value.normalize(), "f"))
    return html.escape(str(value))


class _Raw:
    """Markup built here (a link), not text to escape."""

    def __init__(self, markup: str) -> None:
        self.markup = markup


def _totals_section(invoices: Sequence[Invoice]) -> str:
    totals: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for invoice in invoices:
        entry = totals[invoice.status, invoice.plan]
        entry[0] += 1
        entry[1] += invoice.total
    rows = [(s, p, n, f"{t:.2f}") for (s, p), (n, t) in sorted(totals.items())]
    grand = sum((i.total for i in invoices), Decimal(0))
    rows.append(("all", "all", len(invoices), f"{grand:.2f}"))
    return "<h2>Totals by status and plan</h2>" + _table(
        ("status", "plan", "invoices", "total"), rows, numeric={2, 3}
    )


def _invoice_list_section(invoices: Sequence[Invoice], month: str) -> str:
    rows = []
    for invoice in invoices:
        pdf = f"../invoices/{month}/{invoice_file_stem(invoice.tenant_id)}.pdf"
        link = _Raw(f"<a href='{html.escape(pdf, quote=True)}'>PDF</a>")
        rows.append(
            (
                invoice.invoice_number or "(draft)",
                invoice.tenant_id,
                invoice.plan,
                invoice.status,
                money_text(invoice.total),
                link,
            )
        )
    return "<h2>Invoices</h2>" + _table(
        ("number", "tenant", "plan", "status", "total", "invoice"), rows, numeric={4}
    )


def _included_section(invoices: Sequence[Invoice], catalog: Catalog, charts: _Charts) -> str:
    import plotly.graph_objects as go

    rows, classes, bars = [], [], defaultdict(lambda: ([], []))
    for invoice in invoices:
        plan = catalog.plans.get(invoice.plan)
        if plan is None:
            continue
        alerts = {(a.meter, a.threshold) for a in invoice.alerts}
        for meter, price in sorted(plan.prices.items()):
            usage = invoice.usage.get(meter, ZERO)
            included = price.included
            share = usage / included * 100 if included > 0 else None
            mark = (
                "100% reached"
                if (meter, Decimal("1.0")) in alerts
                else "90% reached"
                if (meter, Decimal("0.9")) in alerts
                else ""
            )
            rows.append(
                (
                    invoice.tenant_id,
                    meter,
                    usage,
                    included,
                    "" if share is None else f"{share:.1f}%",
                    mark,
                )
            )
            classes.append("alert-100" if mark.startswith("100") else "alert-90" if mark else "")
            # a log axis keeps 5% and 2000% readable on one chart; a zero has no bar to draw
            if share:
                tenants, shares = bars[meter]
                tenants.append(invoice.tenant_id)
                shares.append(float(share))
    figure = go.Figure()
    for meter, (tenants, shares) in sorted(bars.items()):
        figure.add_trace(go.Bar(name=meter, x=tenants, y=shares))
    # the alert thresholds as dashed lines across the chart; on a log axis plotly places shapes
    # in data units but annotations in log10 units
    for threshold, color, shift in ((90, "#f59f00", -10), (100, "#e03131", 10)):
        figure.add_shape(
            type="line", xref="paper", x0=0, x1=1, yref="y", y0=threshold, y1=threshold,
            line={"dash": "dash", "color": color},
        )  # fmt: skip
        figure.add_annotation(
            xref="paper", x=1, xanchor="right", yref="y", y=math.log10(threshold),
            yshift=shift, text=f"{threshold}% alert", showarrow=False, font={"color": color},
        )  # fmt: skip
    figure.update_layout(
        barmode="group",
        title="Usage as % of included quantity (meters with an included quantity, log scale)",
        yaxis_title="% of included",
        yaxis_type="log",
        # from below the smallest bar to above the largest, both thresholds always in view
        yaxis_range=[
            math.log10(min([50.0, *(v for _, shares in bars.values() for v in shares)]) / 2),
            math.log10(max([120.0, *(v for _, shares in bars.values() for v in shares)]) * 1.3),
        ],
        height=420,
        margin={"t": 60, "b": 40},
    )
    chart = (
        charts.html(figure) if bars else "<p class='muted'>No meter with an included quantity.</p>"
    )
    return (
        "<h2>Usage against included quantities</h2>"
        + chart
        + _table(
            ("tenant", "meter", "usage", "included", "% of included", "alert"),
            rows,
            numeric={2, 3, 4},
            classes=classes,
        )
    )


def _daily_usage_section(daily_usage: Sequence[tuple], charts: _Charts) -> str:
    import plotly.graph_objects as go

    if not daily_usage:
        return "<h2>Daily usage</h2><p class='muted'>No usage recorded this month.</p>"
    by_meter: dict[str, dict[str, tuple[list, list]]] = defaultdict(
        lambda: defaultdict(lambda: ([], []))
    )
    for day, tenant, meter, quantity in daily_usage:
        days, quantities = by_meter[meter][tenant]
        days.append(day.isoformat())
        quantities.append(float(quantity))
    parts = ["<h2>Daily usage</h2>"]
    for meter, tenants in sorted(by_meter.items()):
        figure = go.Figure()
        for tenant, (days, quantities) in sorted(tenants.items()):
            figure.add_trace(go.Scatter(name=tenant, x=days, y=quantities, mode="lines+markers"))
        figure.update_layout(
            title=f"{meter} per day", height=300, margin={"t": 50, "b": 30}, xaxis_type="date"
        )
        parts.append(charts.html(figure))
    return "\n".join(parts)


def _margin_section(
    invoices: Sequence[Invoice],
    costs: Mapping[str, tuple[Decimal, int]],
    charts: _Charts,
) -> str:
    import plotly.graph_objects as go

    billed = {i.tenant_id: i.total for i in invoices}
    tenants = sorted(set(billed) | set(costs))
    rows = []
    for tenant in tenants:
        total = billed.get(tenant, Decimal(0))
        cost, unpriced = costs.get(tenant, (Decimal(0), 0))
        rows.append(
            (
                tenant,
                "invoiced" if tenant in billed else "unbilled",
                f"{total:.2f}",
                f"{cost:.2f}",
                f"{total - cost:.2f}",
                unpriced,
            )
        )
    if not tenants:
        return "<h2>Provider cost and margin</h2><p class='muted'>No tenant this month.</p>"
    figure = go.Figure(
        [
            go.Bar(name="billed", x=tenants, y=[float(billed.get(t, 0)) for t in tenants]),
            go.Bar(
                name="provider cost",
                x=tenants,
                y=[float(costs.get(t, (Decimal(0), 0))[0]) for t in tenants],
            ),
        ]
    )
    figure.update_layout(
        barmode="group", title="Billed vs provider cost (USD)", height=380, margin={"t": 50}
    )
    return (
        "<h2>Provider cost and margin</h2>"
        + charts.html(figure)
        + _table(
            ("tenant", "invoice", "billed", "provider cost (known)", "margin", "unpriced records"),
            rows,
            numeric={2, 3, 4, 5},
        )
    )


def _unpriced_section(data: _MartsData) -> str:
    unpriced_records = sum(n for _, n in data.costs.values())
    parts = ["<h2>Unpriced usage</h2>"]
    parts.append(
        f"<p>{unpriced_records} usage records this month have no known provider cost "
        "(a model without a catalog price); they are never counted as free.</p>"
    )
    if data.unpriced:
        parts.append(
            _table(
                (
                    "source",
                    "provider",
                    "model",
                    "items",
                    "input tokens",
                    "output tokens",
                    "first seen",
                    "last seen",
                ),  # fmt: skip
                data.unpriced,
                numeric={3, 4, 5},
            )
        )
    return "\n".join(parts)
