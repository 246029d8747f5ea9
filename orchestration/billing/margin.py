"""`tenant_monthly_margin` (SPEC 7): what each tenant was billed for a month against what its usage
cost the platform, for every invoiced month.

It is a query run inside each published version, after `fct_usage_records`: the billed totals come
from the months' `summary.csv` (final invoices, else the latest drafts), the provider cost from the
records themselves, so it adds up to `fct_usage_records` by construction and is refreshed by every
`meterline run` (late usage) and every `meterline invoice` (new totals).
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.core.sql_text import sql_literal

MARGIN_TABLE = "tenant_monthly_margin"
_MONTH_DIR = re.compile(r"^\d{4}-\d{2}$")
_COLUMNS = (
    "CAST(NULL AS DATE) AS usage_month, NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS plan, "
    "NULL::VARCHAR AS invoice_status, NULL::DECIMAL(18, 2) AS billed_total, "
    "NULL::DECIMAL(38, 12) AS provider_cost_usd, NULL::BIGINT AS unpriced_items, "
    "NULL::DECIMAL(38, 12) AS margin_usd"
)


def invoiced_months(invoices_root: Path) -> list[str]:
    """Months with a summary.csv under `invoices/`, in order."""
    if not invoices_root.is_dir():
        return []
    return sorted(
        p.name
        for p in invoices_root.iterdir()
        if _MONTH_DIR.match(p.name) and (p / "summary.csv").is_file()
    )


def margin_query(invoices_root: Path) -> str:
    """SQL for `tenant_monthly_margin`, reading `main.fct_usage_records` of the published version.

    One row per (invoiced month, tenant that was invoiced or has records that month). A tenant
    with usage but no invoice (no plan) shows `invoice_status` `unbilled` and a billed total of 0.
    Provider cost sums known costs only (an unpriced item's NULL cost is not 0, SPEC 2.6).
    """
    months = invoiced_months(invoices_root)
    if not months:
        return f"SELECT {_COLUMNS} LIMIT 0"
    summaries = sql_literal_list([invoices_root / m / "summary.csv" for m in months])
    month_list = ", ".join(sql_literal(m) for m in months)
    return f"""
WITH invoiced AS (
    SELECT regexp_extract(replace(filename, '\\', '/'), '(\\d{{4}}-\\d{{2}})/summary\\.csv$', 1)
               AS month,
           tenant_id, plan, status, CAST(total AS DECIMAL(18, 2)) AS total
    FROM read_csv({summaries}, all_varchar = true, header = true, filename = true,
                  union_by_name = true)
    WHERE tenant_id IS NOT NULL
),

costs AS (
    SELECT strftime(event_time, '%Y-%m') AS month, tenant_id,
           coalesce(sum(cost_usd), 0) AS provider_cost_usd,
           -- items, not records: a record key is `<source>:<item key>:<meter>`
           count(DISTINCT regexp_replace(record_key, ':[^:]+$', ''))
               FILTER (WHERE cost_source = 'unpriced') AS unpriced_items
    FROM main.fct_usage_records
    WHERE strftime(event_time, '%Y-%m') IN ({month_list})
    GROUP BY 1, 2
)

SELECT CAST(coalesce(i.month, c.month) || '-01' AS DATE) AS usage_month,
       coalesce(i.tenant_id, c.tenant_id) AS tenant_id,
       i.plan,
       coalesce(i.status, 'unbilled') AS invoice_status,
       coalesce(i.total, CAST(0 AS DECIMAL(18, 2))) AS billed_total,
       CAST(coalesce(c.provider_cost_usd, 0) AS DECIMAL(38, 12)) AS provider_cost_usd,
       coalesce(c.unpriced_items, 0) AS unpriced_items,
       CAST(coalesce(i.total, 0) - coalesce(c.provider_cost_usd, 0) AS DECIMAL(38, 12))
           AS margin_usd
FROM invoiced AS i
FULL OUTER JOIN costs AS c ON i.month = c.month AND i.tenant_id = c.tenant_id
ORDER BY usage_month, tenant_id
"""


def sql_literal_list(values) -> str:
    """A DuckDB list literal of strings: `['a', 'b']`."""
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"
