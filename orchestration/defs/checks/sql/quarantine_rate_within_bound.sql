-- Per source, the share of items read that were quarantined stays within max_quarantine_rate (a
-- data-quality signal, not a money check).
with per_source as (
    select
        source,
        cast(sum(items_read) as bigint) as items_read,
        cast(sum(quarantined) as bigint) as quarantined
    from ingest_audit
    group by source
)

select
    source,
    items_read,
    quarantined,
    -- integer counts below 2**53 divide to the double nearest the exact ratio, so a rate exactly
    -- at the bound compares equal to it
    case
        when items_read = 0 then 0.0
        else cast(quarantined as double) / cast(items_read as double)
    end as quarantine_rate
from per_source
order by source
