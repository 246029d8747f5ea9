-- tenant_monthly_usage has one row per (usage_month, tenant_id, meter), usage_month is the first
-- day of its month, the meter is a SPEC meter and the quantity is never negative.
select
    usage_month,
    extract(day from usage_month) as usage_month_day,
    tenant_id,
    meter,
    -- sign and NULL survive the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(quantity as double) as quantity,
    record_count
from tenant_monthly_usage
order by usage_month, tenant_id, meter
