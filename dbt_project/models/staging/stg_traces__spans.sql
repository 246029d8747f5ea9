-- One row per usable OTLP span (SPEC 2.3). Agent and workflow spans may carry the token totals of
-- the model calls below them: those are kept apart (agent_reported_*) and are not token counts,
-- so nothing is metered or priced twice.
with spans as (
    select
        *,
        coalesce(operation in ('invoke_agent', 'invoke_workflow', 'create_agent'), false)
            as is_agent_span
    from {{ bronze_rows('traces') }}
)

select
    source,
    source_file,
    delivery_date,
    line_number,
    item_position,
    item_key,
    item_json,
    trace_id,
    span_id,
    parent_span_id,
    coalesce(parent_is_remote, false) as parent_is_remote,
    span_name,
    start_time,
    end_time,
    status_code,
    tenant_id,
    agent_id,
    team_id,
    user_id,
    operation,
    model,
    provider,
    is_agent_span,
    {{ checked_cast("case when not is_agent_span then input_tokens end", 'decimal(38, 12)') }}
        as input_tokens,
    {{ checked_cast("case when not is_agent_span then output_tokens end", 'decimal(38, 12)') }}
        as output_tokens,
    {{ checked_cast("case when not is_agent_span then cache_read_tokens end", 'decimal(38, 12)') }}
        as cache_read_tokens,
    {{ checked_cast("case when not is_agent_span then cache_write_tokens end", 'decimal(38, 12)') }}
        as cache_write_tokens,
    {{ checked_cast("case when not is_agent_span then reasoning_tokens end", 'decimal(38, 12)') }}
        as reasoning_tokens,
    {{ checked_cast("case when is_agent_span then input_tokens end", 'decimal(38, 12)') }}
        as agent_reported_input_tokens,
    {{ checked_cast("case when is_agent_span then output_tokens end", 'decimal(38, 12)') }}
        as agent_reported_output_tokens,
    {{ checked_cast("source_cost_usd", 'decimal(38, 12)') }} as source_cost_usd
from spans
