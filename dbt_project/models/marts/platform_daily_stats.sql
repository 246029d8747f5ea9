-- The platform-wide view of agent runs per UTC day of started_at (SPEC 7).
-- cost_usd sums the known costs of the runs (NULL-safe: an unknown cost is not 0).
{{ replace_windows_config('usage_date') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    cast(started_at as date) as usage_date,
    count(distinct tenant_id) as tenants,
    count(*) as sessions,
    count(*) filter (where is_billable) as billable_sessions,
    count(*) filter (where status = 'error') as error_sessions,
    {{ sum_exact('input_tokens') }} as input_tokens,
    {{ sum_exact('output_tokens') }} as output_tokens,
    coalesce({{ sum_exact('cost_usd') }}, 0) as cost_usd,
    cast(sum(unpriced_spans) as bigint) as unpriced_spans
from {{ ref('fct_trace_sessions') }}
{% if is_incremental() %}where {{ in_touched_windows('started_at', 'day') }}{% endif %}
group by 1
