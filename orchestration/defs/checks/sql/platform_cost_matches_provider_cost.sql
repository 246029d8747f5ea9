-- Per UTC day, source and tenant, platform_daily_cost equals the known provider cost of the
-- accepted items (LLM requests and spans as costed, session steps at their reported cost, 0 when
-- absent) and counts the unpriced ones.
with provider_costs as (
    select
        cast(event_time as date) as usage_date, 'usage_logs' as source, tenant_id, cost_usd,
        cost_source
    from int_usage_logs_costed
    where copy_status = 'accepted'

    union all

    select cast(start_time as date), 'traces', tenant_id, cost_usd, cost_source
    from int_spans_costed
    where copy_status = 'accepted'

    union all

    select cast(event_time as date), 'sessions', tenant_id, coalesce(source_cost_usd, 0), 'none'
    from int_sessions_copies_classified
    where copy_status = 'accepted'
),

provider as (
    select
        usage_date,
        source,
        tenant_id,
        -- unknown (NULL) costs are left out of the sum and counted instead
        sum(cost_usd) as cost_usd,
        count(*) filter (where cost_source = 'unpriced') as unpriced_items
    from provider_costs
    group by usage_date, source, tenant_id
),

mart as (
    select usage_date, source, tenant_id, cost_usd, unpriced_items, true as is_present
    from platform_daily_cost
)

$line_up
