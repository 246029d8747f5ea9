-- The single source of truth for usage: one row per accepted usage record (SPEC 7).
-- Incremental: the records of the UTC days a run touches are replaced (macros/incremental.sql).
{{ replace_windows_config('event_time') }}
-- depends_on: {{ ref('int_touched_days') }}
select
    record_key,
    source,
    tenant_id,
    meter,
    cast(quantity as decimal(38, 12)) as quantity,
    event_time,
    delivery_date,
    cast(cost_usd as decimal(38, 12)) as cost_usd,
    cost_source,
    cast(source_cost_usd as decimal(38, 12)) as source_cost_usd,
    -- lineage (SPEC 7): `<source>/<delivery date>/<file name>` under raw/, 1-based line
    raw_file,
    cast(raw_line as bigint) as raw_line
from {{ ref('int_usage_records_unioned') }}
{% if is_incremental() %}
where {{ in_touched_windows('event_time') }}
{% endif %}
