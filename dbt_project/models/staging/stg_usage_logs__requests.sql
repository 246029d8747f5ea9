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
    cast(input_tokens as decimal(38, 12)) as input_tokens,
    cast(output_tokens as decimal(38, 12)) as output_tokens,
    cast(cache_read_tokens as decimal(38, 12)) as cache_read_tokens,
    cast(cache_write_tokens as decimal(38, 12)) as cache_write_tokens,
    cast(reasoning_tokens as decimal(38, 12)) as reasoning_tokens,
    cast(tool_calls as decimal(38, 12)) as tool_calls,
    cast(source_cost_usd as decimal(38, 12)) as source_cost_usd,
    event_time
from {{ source('bronze', 'usage_logs') }}
