-- Usage per billing period (UTC calendar month), tenant and meter; built from the records, not
-- from the daily mart, so that the two can be reconciled against each other.
{{ replace_windows_config('usage_month', 'month') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    cast({{ dbt.date_trunc('month', 'event_time') }} as date) as usage_month,
    tenant_id,
    meter,
    {{ sum_exact('quantity') }} as quantity,
    count(*) as record_count
from {{ ref('fct_usage_records') }}
{% if is_incremental() %}where {{ in_touched_windows('event_time', 'month') }}{% endif %}
group by 1, 2, 3
