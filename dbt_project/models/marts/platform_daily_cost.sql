-- Provider cost (COGS) per UTC day, source and tenant.
select
    cast(event_time as date) as usage_date,
    source,
    tenant_id,
    cast(sum(cost_usd) as decimal(38, 12)) as cost_usd
from {{ ref('int_provider_costs') }}
group by 1, 2, 3
