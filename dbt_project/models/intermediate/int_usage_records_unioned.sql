-- Every usage record (tenant, meter, quantity, event time) derived from accepted items (SPEC 2).
-- An item's provider cost rides on its first record, so cost is never counted twice.
-- raw_file / raw_line: where the record's item is in raw/ (a trace record: its root span).
-- A view: fct_usage_records is its only reader, so writing it as a table too only doubled the
-- cost of the largest model.
{{ config(materialized='view') }}

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
    cast(0 as decimal(38, 12)),
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
    cast(0 as decimal(38, 12)),
    null,
    source_file,
    line_number
from requests
where tool_calls > 0

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
    case when input_tokens is null then cost_usd else cast(0 as decimal(38, 12)) end,
    null,
    source_file,
    line_number
from spans
where output_tokens is not null

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
    cast(0 as decimal(38, 12)),
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
    null,
    source_file,
    line_number
from steps
