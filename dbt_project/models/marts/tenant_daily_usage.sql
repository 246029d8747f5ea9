-- Usage per UTC day, tenant and meter.
{{ replace_windows_config('usage_date') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    cast(event_time as date) as usage_date,
    tenant_id,
    meter,
    {{ sum_exact('quantity') }} as quantity,
    count(*) as record_count
from {{ ref('fct_usage_records') }}
{% if is_incremental() %}where {{ in_touched_windows('event_time', 'day') }}{% endif %}
group by 1, 2, 3
