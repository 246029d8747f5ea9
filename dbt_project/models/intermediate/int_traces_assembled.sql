-- One row per trace: every accepted span with its traceId, whichever file or day it came in.
-- The root span has no parent; when a trace has no such span, a span whose parent is remote (the
-- run was started by a caller outside the platform) is its root, the earliest (then the smallest
-- spanId). A trace is billable when its root has arrived and did not fail (SPEC 2.3).
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='trace_id',
    full_refresh=reprice_full_refresh(),
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('stg_ingest__batch_files') }}
-- depends_on: {{ ref('int_traces_copies_classified') }}
with spans as (
    select * from {{ ref('int_spans_costed') }}
    {% if is_incremental() %}
    -- the traces of the spans this run re-ranked are reassembled from all their spans (SPEC 9)
    where trace_id in (
        select trace_id from {{ ref('int_traces_copies_classified') }} where {{ in_batch() }}
    )
    {% endif %}
),

traces_with_parentless_span as (
    select distinct trace_id from spans where parent_span_id is null
),

remote_roots as (
    select
        trace_id,
        tenant_id,
        agent_id,
        team_id,
        user_id,
        start_time,
        end_time,
        status_code,
        delivery_date,
        source_file,
        line_number,
        row_number() over (partition by trace_id order by start_time, span_id) as root_rank
    from spans
    where parent_is_remote
        and parent_span_id is not null
        and trace_id not in (select trace_id from traces_with_parentless_span)
),

parentless_roots as (
    select
        trace_id,
        tenant_id,
        agent_id,
        team_id,
        user_id,
        start_time,
        end_time,
        status_code,
        delivery_date,
        source_file,
        line_number,
        row_number() over (
            partition by trace_id order by start_time, delivery_date, source_file, line_number,
            item_position
        ) as root_rank
    from spans
    where parent_span_id is null
),

roots as (
    select * from parentless_roots
    union all
    select * from remote_roots
),

first_spans as (
    select
        trace_id,
        tenant_id,
        row_number() over (
            partition by trace_id order by start_time, delivery_date, source_file, line_number,
            item_position
        ) as span_rank
    from spans
),

span_totals as (
    select
        trace_id,
        min(start_time) as first_start,
        max(end_time) as last_end,
        count(*) as span_count,
        count(*) filter (where operation in ('chat', 'text_completion')) as llm_call_count,
        count(*) filter (where operation = 'execute_tool') as tool_call_count,
        count(*) filter (where operation = 'retrieval') as retrieval_count,
        count(*) filter (where operation = 'embeddings') as embedding_count,
        {{ sum_exact('coalesce(input_tokens, 0)') }} as input_tokens,
        {{ sum_exact('coalesce(output_tokens, 0)') }} as output_tokens,
        {{ sum_exact('coalesce(cache_read_tokens, 0)') }} as cache_read_tokens,
        {{ sum_exact('coalesce(cache_write_tokens, 0)') }} as cache_write_tokens,
        {{ sum_exact('coalesce(reasoning_tokens, 0)') }} as reasoning_tokens,
        {{ sum_exact('coalesce(agent_reported_input_tokens, 0)') }} as agent_reported_input_tokens,
        {{ sum_exact('coalesce(agent_reported_output_tokens, 0)') }}
            as agent_reported_output_tokens,
        -- known costs only; unpriced spans are counted instead
        coalesce({{ sum_exact('cost_usd') }}, 0) as cost_usd,
        count(*) filter (where cost_source = 'unpriced') as unpriced_spans,
        max(agent_id) as any_agent_id,
        max(team_id) as any_team_id,
        max(user_id) as any_user_id
    from spans
    group by trace_id
)

select
    t.trace_id,
    coalesce(r.tenant_id, f.tenant_id) as tenant_id,
    coalesce(r.agent_id, t.any_agent_id) as agent_id,
    coalesce(r.team_id, t.any_team_id) as team_id,
    coalesce(r.user_id, t.any_user_id) as user_id,
    coalesce(r.start_time, t.first_start) as started_at,
    greatest(coalesce(r.end_time, t.last_end), t.last_end) as ended_at,
    case
        when r.trace_id is null then 'no_root'
        when r.status_code = 2 then 'error'
        when r.status_code = 1 then 'ok'
        else 'unset'
    end as status,
    t.span_count,
    t.llm_call_count,
    t.tool_call_count,
    t.retrieval_count,
    t.embedding_count,
    cast(t.input_tokens as decimal(38, 12)) as input_tokens,
    cast(t.output_tokens as decimal(38, 12)) as output_tokens,
    cast(t.cost_usd as decimal(38, 12)) as cost_usd,
    cast(t.cache_read_tokens as decimal(38, 12)) as cache_read_tokens,
    cast(t.cache_write_tokens as decimal(38, 12)) as cache_write_tokens,
    cast(t.reasoning_tokens as decimal(38, 12)) as reasoning_tokens,
    t.unpriced_spans,
    cast(t.agent_reported_input_tokens as decimal(38, 12)) as agent_reported_input_tokens,
    cast(t.agent_reported_output_tokens as decimal(38, 12)) as agent_reported_output_tokens,
    r.trace_id is not null and r.status_code <> 2 as is_billable,
    r.delivery_date as root_delivery_date,
    -- lineage of the trace record: the raw line of its root span (SPEC 7)
    r.source_file as root_source_file,
    r.line_number as root_line_number
from span_totals as t
left join roots as r on t.trace_id = r.trace_id and r.root_rank = 1
left join first_spans as f on t.trace_id = f.trace_id and f.span_rank = 1
