-- Every usage record (tenant, meter, quantity, event time) derived from accepted items (SPEC 2).
-- An item's provider cost rides on its first record, so cost is never counted twice; its other
-- records show 0 (NULL when the item is unpriced) and every record carries the item's cost source
-- (SPEC 2.6). Token detail records exist only when their count is above 0.
-- raw_file / raw_line: where the record's item is in raw/ (a trace record: its root span).
-- A view: fct_usage_records is its only reader, so writing it as a table too only doubled the
-- cost of the largest model.
{{ config(materialized='view') }}

{%- set token_details = [
    ('cache_read_tokens', 'llm_cache_read_tokens'),
    ('cache_write_tokens', 'llm_cache_write_tokens'),
    ('reasoning_tokens', 'llm_reasoning_tokens'),
] %}

with events as (
    select * from {{ ref('int_events_copies_classified') }} where copy_status = 'accepted'
),

requests as (
    select * from {{ ref('int_usage_logs_costed') }}
),

spans as (
    select * from {{ ref('int_spans_costed') }}
),

steps as (
    select * from {{ ref('int_sessions_copies_classified') }} where copy_status = 'accepted'
),

traces as (
    select * from {{ ref('int_traces_assembled') }} where is_billable
)

select
    'events:' || item_key || ':' || meter as record_key,
    'events' as source,
    item_key,
    tenant_id,
    meter,
    quantity,
    event_time,
    delivery_date,
    cast(0 as decimal(38, 12)) as cost_usd,
    'none' as cost_source,
    source_cost_usd,
    source_file as raw_file,
    line_number as raw_line
from events

union all

select
    'usage_logs:' || item_key || ':llm_input_tokens',
    'usage_logs',
    item_key,
    tenant_id,
    'llm_input_tokens',
    input_tokens,
    event_time,
    delivery_date,
    cost_usd,
    cost_source,
    source_cost_usd,
    source_file,
    line_number
from requests

union all

select
    'usage_logs:' || item_key || ':llm_output_tokens',
    'usage_logs',
    item_key,
    tenant_id,
    'llm_output_tokens',
    output_tokens,
    event_time,
    delivery_date,
    {{ later_record_cost('cost_source') }},
    cost_source,
    null,
    source_file,
    line_number
from requests

union all

select
    'usage_logs:' || item_key || ':tool_calls',
    'usage_logs',
    item_key,
    tenant_id,
    'tool_calls',
    tool_calls,
    event_time,
    delivery_date,
    {{ later_record_cost('cost_source') }},
    cost_source,
    null,
    source_file,
    line_number
from requests
where tool_calls > 0
{% for column, meter in token_details %}
union all

select
    'usage_logs:' || item_key || ':{{ meter }}',
    'usage_logs',
    item_key,
    tenant_id,
    '{{ meter }}',
    {{ column }},
    event_time,
    delivery_date,
    {{ later_record_cost('cost_source') }},
    cost_source,
    null,
    source_file,
    line_number
from requests
where {{ column }} > 0
{% endfor %}
union all

select
    'traces:' || item_key || ':llm_input_tokens',
    'traces',
    item_key,
    tenant_id,
    'llm_input_tokens',
    input_tokens,
    start_time,
    delivery_date,
    cost_usd,
    cost_source,
    source_cost_usd,
    source_file,
    line_number
from spans
where input_tokens is not null

union all

select
    'traces:' || item_key || ':llm_output_tokens',
    'traces',
    item_key,
    tenant_id,
    'llm_output_tokens',
    output_tokens,
    start_time,
    delivery_date,
    case when input_tokens is null then cost_usd else {{ later_record_cost('cost_source') }} end,
    cost_source,
    null,
    source_file,
    line_number
from spans
where output_tokens is not null
{% for column, meter in token_details %}
union all

-- never a span's first record: a detail above 0 needs its whole (input or output) to be there
select
    'traces:' || item_key || ':{{ meter }}',
    'traces',
    item_key,
    tenant_id,
    '{{ meter }}',
    {{ column }},
    start_time,
    delivery_date,
    {{ later_record_cost('cost_source') }},
    cost_source,
    null,
    source_file,
    line_number
from spans
where {{ column }} > 0
{% endfor %}
union all

select
    'traces:' || trace_id || ':traces',
    'traces',
    trace_id,
    tenant_id,
    'traces',
    cast(1 as decimal(38, 12)),
    started_at,
    root_delivery_date,
    -- a trace is not an item: its spans' costs ride on their own records
    cast(0 as decimal(38, 12)),
    'none',
    null,
    root_source_file,
    root_line_number
from traces

union all

select
    'sessions:' || item_key || ':' || meter,
    'sessions',
    item_key,
    tenant_id,
    meter,
    quantity,
    event_time,
    delivery_date,
    coalesce(source_cost_usd, 0),
    case when source_cost_usd is not null then 'source' else 'none' end,
    null,
    source_file,
    line_number
from steps
