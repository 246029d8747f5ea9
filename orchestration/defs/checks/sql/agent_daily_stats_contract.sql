-- agent_daily_stats has one row per (usage_date, tenant_id, agent_id), no more error sessions
-- than sessions, and tokens and cost that are never negative.
select
    usage_date,
    tenant_id,
    agent_id,
    sessions,
    error_sessions,
    -- sign and NULL survive the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(input_tokens as double) as input_tokens,
    cast(output_tokens as double) as output_tokens,
    cast(cost_usd as double) as cost_usd
from agent_daily_stats
order by usage_date, tenant_id, agent_id
