-- What the catalog lacks a price for (SPEC 2.6, 7): accepted items with token counts, no sent
-- cost and no price in force, per source, provider and model id as the items sent them.
select
    source,
    provider,
    model,
    count(*) as items,
    {{ sum_exact('coalesce(input_tokens, 0)') }} as input_tokens,
    {{ sum_exact('coalesce(output_tokens, 0)') }} as output_tokens,
    min(event_time) as first_seen,
    max(event_time) as last_seen
from {{ ref('int_provider_costs') }}
where cost_source = 'unpriced'
group by 1, 2, 3
