-- Per tenant, meter and UTC day, tenant_daily_usage holds exactly the quantity and record count
-- recounted from the accepted bronze items of every source.
with accepted_records as (
    select cast(event_time as date) as usage_date, tenant_id, meter, quantity
    from int_events_copies_classified
    where copy_status = 'accepted'

    union all

    -- every accepted LLM request yields both token records, whatever their values
    select cast(event_time as date), tenant_id, 'llm_input_tokens', input_tokens
    from int_usage_logs_copies_classified
    where copy_status = 'accepted'

    union all

    select cast(event_time as date), tenant_id, 'llm_output_tokens', output_tokens
    from int_usage_logs_copies_classified
    where copy_status = 'accepted'

    union all

    select cast(event_time as date), tenant_id, 'tool_calls', tool_calls
    from int_usage_logs_copies_classified
    where copy_status = 'accepted' and tool_calls > 0

    union all

    -- token details are recorded when above 0; agent spans carry none (stg_traces__spans)
    select cast(event_time as date), tenant_id, 'llm_cache_read_tokens', cache_read_tokens
    from int_usage_logs_copies_classified
    where copy_status = 'accepted' and cache_read_tokens > 0

    union all

    select cast(event_time as date), tenant_id, 'llm_cache_write_tokens', cache_write_tokens
    from int_usage_logs_copies_classified
    where copy_status = 'accepted' and cache_write_tokens > 0

    union all

    select cast(event_time as date), tenant_id, 'llm_reasoning_tokens', reasoning_tokens
    from int_usage_logs_copies_classified
    where copy_status = 'accepted' and reasoning_tokens > 0

    union all

    select cast(start_time as date), tenant_id, 'llm_cache_read_tokens', cache_read_tokens
    from int_traces_copies_classified
    where copy_status = 'accepted' and cache_read_tokens > 0

    union all

    select cast(start_time as date), tenant_id, 'llm_cache_write_tokens', cache_write_tokens
    from int_traces_copies_classified
    where copy_status = 'accepted' and cache_write_tokens > 0

    union all

    select cast(start_time as date), tenant_id, 'llm_reasoning_tokens', reasoning_tokens
    from int_traces_copies_classified
    where copy_status = 'accepted' and reasoning_tokens > 0

    union all

    select cast(start_time as date), tenant_id, 'llm_input_tokens', input_tokens
    from int_traces_copies_classified
    where copy_status = 'accepted' and input_tokens is not null

    union all

    select cast(start_time as date), tenant_id, 'llm_output_tokens', output_tokens
    from int_traces_copies_classified
    where copy_status = 'accepted' and output_tokens is not null

    union all

    select cast(started_at as date), tenant_id, 'traces', cast(1 as decimal(38, 12))
    from int_traces_assembled
    where is_billable

    union all

    select cast(event_time as date), tenant_id, meter, quantity
    from int_sessions_copies_classified
    where copy_status = 'accepted'
),

bronze as (
    select
        usage_date,
        tenant_id,
        meter,
        sum(quantity) as quantity,
        count(*) as record_count
    from accepted_records
    group by usage_date, tenant_id, meter
),

mart as (
    select usage_date, tenant_id, meter, quantity, record_count, true as is_present
    from tenant_daily_usage
)

$line_up
