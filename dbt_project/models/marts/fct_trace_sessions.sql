-- One row per trace (agent run), assembled across files and deliveries (SPEC 2.3, 7).
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
    is_billable
from {{ ref('int_traces_assembled') }}
