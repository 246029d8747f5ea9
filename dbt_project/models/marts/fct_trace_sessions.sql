-- One row per trace (agent run), assembled across files and deliveries (SPEC 2.3, 7).
-- A view: int_traces_assembled is the incremental table, this adds the published shape;
-- window_column: its data tests check the days a run touched (macros/incremental.sql).
{{ config(materialized='view', window_column='started_at') }}
select
    trace_id,
    tenant_id,
    agent_id,
    team_id,
    user_id,
    started_at,
    ended_at,
    {{ duration_ms('started_at', 'ended_at') }} as duration_ms,
    status,
    span_count,
    llm_call_count,
    tool_call_count,
    retrieval_count,
    embedding_count,
    input_tokens,
    output_tokens,
    cost_usd,
    is_billable,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    unpriced_spans,
    agent_reported_input_tokens,
    agent_reported_output_tokens
from {{ ref('int_traces_assembled') }}
