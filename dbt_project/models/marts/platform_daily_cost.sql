-- Provider cost (COGS) per UTC day, source and tenant: the sum of the known costs, next to the
-- number of items whose cost is unknown (unpriced, SPEC 2.6).
select
    cast(event_time as date) as usage_date,
    source,
    tenant_id,
    coalesce({{ sum_exact('cost_usd') }}, 0) as cost_usd,
    count(*) filter (where cost_source = 'unpriced') as unpriced_items
from {{ ref('int_provider_costs') }}
group by 1, 2, 3
