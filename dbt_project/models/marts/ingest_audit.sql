-- Per raw file: items read = accepted + duplicates + conflicts + quarantined (SPEC 2.5).
with copies as (
    select source_file, copy_status from {{ ref('int_events_copies_classified') }}
    union all
    select source_file, copy_status from {{ ref('int_usage_logs_copies_classified') }}
    union all
    select source_file, copy_status from {{ ref('int_traces_copies_classified') }}
    union all
    select source_file, copy_status from {{ ref('int_sessions_copies_classified') }}
),

per_file as (
    select
        source_file,
        count(*) filter (where copy_status = 'accepted') as accepted,
        count(*) filter (where copy_status = 'duplicate') as duplicates,
        count(*) filter (where copy_status = 'conflict') as conflicts
    from copies
    group by source_file
)

select
    f.source,
    f.file,
    f.delivery_date,
    f.lines_read,
    f.items_read,
    coalesce(p.accepted, 0) as accepted,
    coalesce(p.duplicates, 0) as duplicates,
    coalesce(p.conflicts, 0) as conflicts,
    f.quarantined
from {{ ref('stg_ingest__files') }} as f
left join per_file as p on f.file = p.source_file
