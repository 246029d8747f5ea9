-- Per raw file, ingest_audit's items read equal accepted + duplicates + conflicts + quarantined,
-- and its quarantined count equals the file's rows in the quarantine table.
with audit as (
    select
        source,
        file,
        delivery_date,
        items_read,
        accepted + duplicates + conflicts + quarantined as items_accounted,
        quarantined,
        true as is_present
    from ingest_audit
),

quarantine_rows as (
    select source, file, delivery_date, count(*) as quarantine_rows
    from quarantine
    group by source, file, delivery_date
),

lined_up as (
    select
        coalesce(audit.source, quarantine_rows.source) as source,
        coalesce(audit.file, quarantine_rows.file) as file,
        coalesce(audit.delivery_date, quarantine_rows.delivery_date) as delivery_date,
        case when audit.is_present then audit.items_read else 0 end as items_read,
        case when audit.is_present then audit.items_accounted else 0 end as items_accounted,
        case when audit.is_present then audit.quarantined else 0 end as audit_quarantined,
        coalesce(quarantine_rows.quarantine_rows, 0) as quarantine_rows
    from audit
    full outer join quarantine_rows on audit.file = quarantine_rows.file
)

select
    source,
    file,
    delivery_date,
    items_read,
    items_accounted,
    items_read - items_accounted as items_difference,
    audit_quarantined,
    quarantine_rows,
    audit_quarantined - quarantine_rows as quarantined_difference
from lined_up
order by file
