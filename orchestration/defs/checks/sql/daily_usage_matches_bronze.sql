-- Per tenant, meter and UTC day, tenant_daily_usage holds exactly the quantity and record count
-- recounted from the accepted bronze items of every source.
with accepted_records as (
    select cast(event_time as date) as usage_date, tenant_id, meter, quantity
    from int_events_copies_classified
    where copy_status = 'accepted'

    union all

    -- every accepted LLM request yields both token records, whatever their values; tool calls
    -- and token details are recorded when above 0
    select cast(event_time as date), tenant_id, records.meter, records.quantity
    from int_usage_logs_copies_classified,
        unnest([
            {'meter': 'llm_input_tokens', 'quantity': input_tokens, 'kept': true},
            {'meter': 'llm_output_tokens', 'quantity': output_tokens, 'kept': true},
            {'meter': 'tool_calls', 'quantity': tool_calls, 'kept': tool_calls > 0},
            {
                'meter': 'llm_cache_read_tokens', 'quantity': cache_read_tokens,
                'kept': cache_read_tokens > 0
            },
            {
                'meter': 'llm_cache_write_tokens', 'quantity': cache_write_tokens,
                'kept': cache_write_tokens > 0
            },
            {
                'meter': 'llm_reasoning_tokens', 'quantity': reasoning_tokens,
                'kept': reasoning_tokens > 0
            }
        ]) as unnested(records)
    where copy_status = 'accepted' and records.kept

    union all

    -- spans: tokens when the attribute is set, details when above 0 (agent spans carry none,
    -- stg_traces__spans)
    select cast(start_time as date), tenant_id, records.meter, records.quantity
    from int_traces_copies_classified,
        unnest([
            {
                'meter': 'llm_input_tokens', 'quantity': input_tokens,
                'kept': input_tokens is not null
            },
            {
                'meter': 'llm_output_tokens', 'quantity': output_tokens,
                'kept': output_tokens is not null
            },
            {
                'meter': 'llm_cache_read_tokens', 'quantity': cache_read_tokens,
                'kept': cache_read_tokens > 0
            },
            {
                'meter': 'llm_cache_write_tokens', 'quantity': cache_write_tokens,
                'kept': cache_write_tokens > 0
            },
            {
                'meter': 'llm_reasoning_tokens', 'quantity': reasoning_tokens,
                'kept': reasoning_tokens > 0
            }
        ]) as unnested(records)
    where copy_status = 'accepted' and records.kept

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
