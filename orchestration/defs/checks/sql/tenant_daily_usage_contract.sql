-- tenant_daily_usage has one row per (usage_date, tenant_id, meter) with a SPEC meter, a quantity
-- that is never negative and at least one record behind it.
select
    usage_date,
    tenant_id,
    meter,
    -- sign and NULL survive the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(quantity as double) as quantity,
    record_count
from tenant_daily_usage
order by usage_date, tenant_id, meter
