-- The raw files this run builds from: ingested since the last published build (written by the
-- transform asset before dbt runs from bronze/files; every file on a full refresh), with what
-- ingestion read from each. See macros/incremental.sql.
select
    source,
    file,
    cast(delivery_date as date) as delivery_date,
    lines_read,
    items_read,
    quarantined
from {{ source('run', 'batch_files') }}
