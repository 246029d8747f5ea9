-- Per raw file: items read = accepted + duplicates + conflicts + quarantined (SPEC 2.5).
-- Incremental: a run recounts the files of its batch and the files holding a copy of a key the
-- batch carries (a later delivery can turn their winner into a duplicate, SPEC 2.5).
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='file',
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('stg_ingest__batch_files') }}
{%- set classified = [
    'int_events_copies_classified',
    'int_usage_logs_copies_classified',
    'int_traces_copies_classified',
    'int_sessions_copies_classified',
] %}

with
{% if is_incremental() %}
touched_files as (
    {% for model in classified %}
    select source_file as file
    from {{ ref(model) }}
    where item_key in (select item_key from {{ ref(model) }} where {{ in_batch() }})
    union
    {% endfor %}
    select file from {{ ref('stg_ingest__batch_files') }}
),

files as (
    select source, file, delivery_date, lines_read, items_read, quarantined
    from {{ ref('stg_ingest__batch_files') }}
    union all
    -- what ingestion read never changes: taken from the earlier row
    select source, file, delivery_date, lines_read, items_read, quarantined
    from {{ this }}
    where file in (select file from touched_files)
        and not {{ in_batch('file') }}
),
{% else %}
files as (
    select source, file, delivery_date, lines_read, items_read, quarantined
    from {{ ref('stg_ingest__files') }}
),
{% endif %}

copies as (
    {% for model in classified %}
    select source_file, copy_status from {{ ref(model) }}
    {% if is_incremental() %}where source_file in (select file from files){% endif %}
    {{ "union all" if not loop.last }}
    {% endfor %}
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
from files as f
left join per_file as p on f.file = p.source_file
