-- Per UTC day, platform_daily_stats has the tenants, sessions, billable and error sessions, tokens,
-- known cost and unpriced spans of fct_trace_sessions by the day of started_at.
with facts as (
    select
        cast(started_at as date) as usage_date,
        count(distinct tenant_id) as tenants,
        count(*) as sessions,
        count(*) filter (where is_billable) as billable_sessions,
        count(*) filter (where status = 'error') as error_sessions,
        coalesce(sum(input_tokens), 0) as input_tokens,
        coalesce(sum(output_tokens), 0) as output_tokens,
        coalesce(sum(cost_usd), 0) as cost_usd,
        coalesce(sum(unpriced_spans), 0) as unpriced_spans
    from fct_trace_sessions
    group by 1
),

mart as (
    select * from platform_daily_stats
)

$line_up
