-- Usage per UTC day, tenant and meter.
select
    cast(event_time as date) as usage_date,
    tenant_id,
    meter,
    {{ sum_exact('quantity') }} as quantity,
    count(*) as record_count
from {{ ref('fct_usage_records') }}
group by 1, 2, 3
