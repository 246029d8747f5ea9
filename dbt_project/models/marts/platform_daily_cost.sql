-- Provider cost (COGS) per UTC day, source and tenant: the sum of the known costs, next to the
-- number of items whose cost is unknown (unpriced, SPEC 2.6).
{{ replace_windows_config('usage_date') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    cast(event_time as date) as usage_date,
    source,
    tenant_id,
    coalesce({{ sum_exact('cost_usd') }}, 0) as cost_usd,
    count(*) filter (where cost_source = 'unpriced') as unpriced_items
from {{ ref('int_provider_costs') }}
{% if is_incremental() %}where {{ in_touched_windows('event_time', 'day') }}{% endif %}
group by 1, 2, 3
