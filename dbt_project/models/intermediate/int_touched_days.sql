-- The UTC days an incremental run recomputes (SPEC 9): the days of every copy, accepted or not,
-- of the item keys its batch carries, and of every span of the traces those spans belong to.
-- Every record, agent run and cost the batch can change lies on one of them, before and after
-- the batch (a displaced winner is still one of the copies).
{{ config(materialized='table') }}
-- depends_on: {{ ref('stg_ingest__batch_files') }}

{%- set keyed = [
    ('int_events_copies_classified', 'event_time'),
    ('int_usage_logs_copies_classified', 'event_time'),
    ('int_sessions_copies_classified', 'event_time'),
] %}
{% for model, time_column in keyed %}
select distinct cast({{ time_column }} as date) as usage_date
from {{ ref(model) }}
where item_key in (select item_key from {{ ref(model) }} where {{ in_batch() }})
union
{% endfor %}
select distinct cast(start_time as date)
from {{ ref('int_traces_copies_classified') }}
where trace_id in (
    select trace_id from {{ ref('int_traces_copies_classified') }} where {{ in_batch() }}
)
