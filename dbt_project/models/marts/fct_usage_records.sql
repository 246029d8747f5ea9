-- The single source of truth for usage: one row per accepted usage record (SPEC 7).
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
