-- One row per usable `usage_logs` line (SPEC 2.2): one LLM request.
select
    source,
    source_file,
    delivery_date,
    line_number,
    item_position,
    item_key,
    item_json,
    tenant_id,
    user_id,
    assistant,
    model,
    provider,
    {{ checked_cast("input_tokens", 'decimal(38, 12)') }} as input_tokens,
    {{ checked_cast("output_tokens", 'decimal(38, 12)') }} as output_tokens,
    {{ checked_cast("cache_read_tokens", 'decimal(38, 12)') }} as cache_read_tokens,
    {{ checked_cast("cache_write_tokens", 'decimal(38, 12)') }} as cache_write_tokens,
    {{ checked_cast("reasoning_tokens", 'decimal(38, 12)') }} as reasoning_tokens,
    {{ checked_cast("tool_calls", 'decimal(38, 12)') }} as tool_calls,
    {{ checked_cast("source_cost_usd", 'decimal(38, 12)') }} as source_cost_usd,
    event_time
from {{ bronze_rows('usage_logs') }}
