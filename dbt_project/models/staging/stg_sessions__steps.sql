-- One row per usable step of an exported session document (SPEC 2.4).
select
    source,
    source_file,
    delivery_date,
    line_number,
    item_position,
    item_key,
    item_json,
    session_id,
    tenant_id,
    user_id,
    session_status,
    feature,
    provider,
    usage_type,
    meter,
    {{ checked_cast("quantity", 'decimal(38, 12)') }} as quantity,
    event_time,
    {{ checked_cast("source_cost_usd", 'decimal(38, 12)') }} as source_cost_usd
from {{ bronze_rows('sessions') }}
