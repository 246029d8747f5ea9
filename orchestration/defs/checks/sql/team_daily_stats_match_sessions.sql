-- Per UTC day and tenant, team_daily_stats summed over teams has the sessions, error sessions,
-- tokens and known cost of fct_trace_sessions by the day of started_at.
with facts as (
    select
        cast(started_at as date) as usage_date,
        tenant_id,
        count(*) as sessions,
        count(*) filter (where status = 'error') as error_sessions,
        coalesce(sum(input_tokens), 0) as input_tokens,
        coalesce(sum(output_tokens), 0) as output_tokens,
        coalesce(sum(cost_usd), 0) as cost_usd
    from fct_trace_sessions
    group by 1, 2
),

mart as (
    select
        usage_date,
        tenant_id,
        sum(sessions) as sessions,
        sum(error_sessions) as error_sessions,
        coalesce(sum(input_tokens), 0) as input_tokens,
        coalesce(sum(output_tokens), 0) as output_tokens,
        coalesce(sum(cost_usd), 0) as cost_usd
    from team_daily_stats
    group by 1, 2
)

$line_up
