-- Agent runs per UTC day (of started_at), tenant and team (SPEC 7); team_id NULL = no team.
-- cost_usd sums the known costs of the runs (NULL-safe: an unknown cost is not 0).
{{ replace_windows_config('usage_date') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    cast(started_at as date) as usage_date,
    tenant_id,
    team_id,
    count(*) as sessions,
    count(*) filter (where status = 'error') as error_sessions,
    {{ sum_exact('input_tokens') }} as input_tokens,
    {{ sum_exact('output_tokens') }} as output_tokens,
    coalesce({{ sum_exact('cost_usd') }}, 0) as cost_usd
from {{ ref('fct_trace_sessions') }}
{% if is_incremental() %}where {{ in_touched_windows('started_at', 'day') }}{% endif %}
group by 1, 2, 3
