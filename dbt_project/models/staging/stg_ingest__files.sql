-- One row per raw file ingested into bronze.
select
    source,
    source_file as file,
    delivery_date,
    file_sha256,
    lines_read,
    items_read,
    quarantined,
    ingested_at
from {{ bronze_rows('files') }}
