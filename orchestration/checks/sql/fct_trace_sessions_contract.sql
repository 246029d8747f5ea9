-- fct_trace_sessions has one row per trace_id with a tenant, a known status, at least one span,
-- counts, tokens and cost that are never negative, and is billable exactly when its root arrived
-- and did not fail.
select
    trace_id,
    tenant_id,
    started_at,
    duration_ms,
    status,
    is_billable,
    span_count,
    llm_call_count,
    tool_call_count,
    retrieval_count,
    embedding_count,
    -- sign and NULL survive the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(input_tokens as double) as input_tokens,
    cast(output_tokens as double) as output_tokens,
    cast(cost_usd as double) as cost_usd
from fct_trace_sessions
order by trace_id
