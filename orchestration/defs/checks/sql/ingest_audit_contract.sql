-- ingest_audit has one row per raw file of a known source, with its delivery date and item counts
-- that are never negative.
select
    source,
    file,
    delivery_date,
    lines_read,
    items_read,
    accepted,
    duplicates,
    conflicts,
    quarantined
from ingest_audit
order by file
