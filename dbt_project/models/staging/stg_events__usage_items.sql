-- One row per usable `events` line (SPEC 2.1), duplicates still included.
select
    source,
    source_file,
    delivery_date,
    line_number,
    item_position,
    item_key,
    item_json,
    tenant_id,
    meter,
    {{ checked_cast("quantity", 'decimal(38, 12)') }} as quantity,
    event_time,
    {{ checked_cast("source_cost_usd", 'decimal(38, 12)') }} as source_cost_usd
from {{ bronze_rows('events') }}
