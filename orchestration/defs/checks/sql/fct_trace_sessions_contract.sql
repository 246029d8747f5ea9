-- fct_trace_sessions has one row per trace_id with a tenant, a known status, at least one span,
-- counts, tokens and cost that are never negative, and is billable exactly when its root arrived
-- and did not fail.

-- One row per UTC day, tenant, status and billability of the traces, however many traces there
-- are: a NULL in any of them forms its own group, and the other columns count what the suite
-- forbids.
with duplicated_traces as (
    select trace_id
    from fct_trace_sessions
    group by trace_id
    having count(*) > 1
)

select
    cast(traces.started_at as date) as usage_date,
    traces.tenant_id,
    traces.status,
    traces.is_billable,
    count(*) as traces,
    count(*) - count(traces.trace_id) as trace_id_nulls,
    count(duplicated_traces.trace_id) as duplicated_traces,
    min(duplicated_traces.trace_id) as first_duplicated_trace,
    count(*) - count(traces.span_count) as span_count_nulls,
    count(*) - count(traces.input_tokens) as input_tokens_nulls,
    count(*) - count(traces.output_tokens) as output_tokens_nulls,
    count(*) - count(traces.cost_usd) as cost_usd_nulls,
    min(traces.span_count) as min_span_count,
    min(traces.duration_ms) as min_duration_ms,
    min(traces.llm_call_count) as min_llm_call_count,
    min(traces.tool_call_count) as min_tool_call_count,
    min(traces.retrieval_count) as min_retrieval_count,
    min(traces.embedding_count) as min_embedding_count,
    -- the sign survives the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(min(traces.input_tokens) as double) as min_input_tokens,
    cast(min(traces.output_tokens) as double) as min_output_tokens,
    cast(min(traces.cost_usd) as double) as min_cost_usd
from fct_trace_sessions as traces
left join duplicated_traces on traces.trace_id = duplicated_traces.trace_id
group by 1, 2, 3, 4
order by usage_date, tenant_id, status, is_billable
