-- Items that could not be used, with the first SPEC 2.5 reason that applies.
select
    source,
    source_file as file,
    delivery_date,
    line_number,
    {{ checked_cast("item_position", 'bigint') }} as item_position,
    reason,
    raw
from {{ bronze_rows('quarantine') }}
