-- Where the money goes (SPEC 7): accepted items per UTC month, tenant, source, feature and
-- provider, with their provider cost. feature = a session step's `feature`, a request's
-- `assistant`, a span's `gen_ai.operation.name`; operations = accepted items.
{{ replace_windows_config('usage_month', 'month') }}
-- depends_on: {{ ref('int_touched_days') }}
with items as (
    select
        event_time,
        tenant_id,
        'sessions' as source,
        feature,
        provider,
        coalesce(source_cost_usd, 0) as cost_usd
    from {{ ref('int_sessions_copies_classified') }}
    where copy_status = 'accepted'

    union all

    select
        event_time,
        tenant_id,
        'usage_logs',
        assistant,
        provider,
        cost_usd
    from {{ ref('int_usage_logs_costed') }}

    union all

    select
        start_time,
        tenant_id,
        'traces',
        operation,
        provider,
        cost_usd
    from {{ ref('int_spans_costed') }}
)

select
    cast({{ dbt.date_trunc('month', 'event_time') }} as date) as usage_month,
    tenant_id,
    source,
    feature,
    provider,
    count(*) as operations,
    coalesce({{ sum_exact('cost_usd') }}, 0) as cost_usd
from items
{% if is_incremental() %}where {{ in_touched_windows('event_time', 'month') }}{% endif %}
group by 1, 2, 3, 4, 5
