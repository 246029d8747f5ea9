-- Per UTC day and tenant, team_daily_stats summed over teams has the sessions, error sessions,
-- tokens and known cost of fct_trace_sessions by the day of started_at.
with sessions as (
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

select
    coalesce(mart.usage_date, sessions.usage_date) as usage_date,
    coalesce(mart.tenant_id, sessions.tenant_id) as tenant_id,
    coalesce(mart.sessions, 0) as mart_sessions,
    coalesce(sessions.sessions, 0) as facts_sessions,
    coalesce(mart.error_sessions, 0) as mart_error_sessions,
    coalesce(sessions.error_sessions, 0) as facts_error_sessions,
    coalesce(mart.input_tokens, 0) as mart_input_tokens,
    coalesce(sessions.input_tokens, 0) as facts_input_tokens,
    coalesce(mart.output_tokens, 0) as mart_output_tokens,
    coalesce(sessions.output_tokens, 0) as facts_output_tokens,
    coalesce(mart.cost_usd, 0) as mart_cost_usd,
    coalesce(sessions.cost_usd, 0) as facts_cost_usd
from mart
full outer join sessions
    on mart.usage_date = sessions.usage_date
    and mart.tenant_id = sessions.tenant_id
order by usage_date, tenant_id
