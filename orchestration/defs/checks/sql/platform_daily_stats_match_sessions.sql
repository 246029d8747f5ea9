-- Per UTC day, platform_daily_stats has the tenants, sessions, billable and error sessions, tokens,
-- known cost and unpriced spans of fct_trace_sessions by the day of started_at.
with sessions as (
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
)

select
    coalesce(mart.usage_date, sessions.usage_date) as usage_date,
    coalesce(mart.tenants, 0) as mart_tenants,
    coalesce(sessions.tenants, 0) as facts_tenants,
    coalesce(mart.sessions, 0) as mart_sessions,
    coalesce(sessions.sessions, 0) as facts_sessions,
    coalesce(mart.billable_sessions, 0) as mart_billable_sessions,
    coalesce(sessions.billable_sessions, 0) as facts_billable_sessions,
    coalesce(mart.error_sessions, 0) as mart_error_sessions,
    coalesce(sessions.error_sessions, 0) as facts_error_sessions,
    coalesce(mart.input_tokens, 0) as mart_input_tokens,
    coalesce(sessions.input_tokens, 0) as facts_input_tokens,
    coalesce(mart.output_tokens, 0) as mart_output_tokens,
    coalesce(sessions.output_tokens, 0) as facts_output_tokens,
    coalesce(mart.cost_usd, 0) as mart_cost_usd,
    coalesce(sessions.cost_usd, 0) as facts_cost_usd,
    coalesce(mart.unpriced_spans, 0) as mart_unpriced_spans,
    coalesce(sessions.unpriced_spans, 0) as facts_unpriced_spans
from platform_daily_stats as mart
full outer join sessions on mart.usage_date = sessions.usage_date
order by usage_date
