-- platform_daily_cost has one row per (usage_date, source, tenant_id) of a source that has
-- provider costs, with a cost that is never negative.
select
    usage_date,
    source,
    tenant_id,
    -- sign and NULL survive the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(cost_usd as double) as cost_usd
from platform_daily_cost
order by usage_date, source, tenant_id
