-- Agent runs per UTC day, tenant and agent.
{{ replace_windows_config('usage_date') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    cast(started_at as date) as usage_date,
    tenant_id,
    agent_id,
    count(*) as sessions,
    count(*) filter (where status = 'error') as error_sessions,
    {{ sum_exact('input_tokens') }} as input_tokens,
    {{ sum_exact('output_tokens') }} as output_tokens,
    {{ sum_exact('cost_usd') }} as cost_usd,
    {{ mean_ms('duration_ms') }} as avg_duration_ms,
    {{ p95('duration_ms') }} as p95_duration_ms
from {{ ref('fct_trace_sessions') }}
{% if is_incremental() %}where {{ in_touched_windows('started_at', 'day') }}{% endif %}
group by 1, 2, 3
