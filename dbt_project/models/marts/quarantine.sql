-- One row per quarantined item, with its reason and raw text (SPEC 2.5, 7). Incremental: a run
-- adds the quarantine of its batch's files (replacing them if the batch is built again).
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='file',
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('stg_ingest__batch_files') }}
select
    source,
    file,
    line_number,
    reason,
    raw,
    delivery_date,
    item_position
from {{ ref('stg_ingest__quarantine') }}
{% if is_incremental() %}where {{ in_batch('file') }}{% endif %}
