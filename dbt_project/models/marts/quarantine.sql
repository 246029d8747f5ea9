-- One row per quarantined item, with its reason and raw text (SPEC 2.5, 7).
select
    source,
    file,
    line_number,
    reason,
    raw,
    delivery_date,
    item_position
from {{ ref('stg_ingest__quarantine') }}
