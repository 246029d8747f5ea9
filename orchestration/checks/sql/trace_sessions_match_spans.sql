-- Per trace, fct_trace_sessions carries exactly the span count, tokens and provider cost summed
-- over the trace's accepted spans.
with spans as (
    select
        trace_id,
        min(tenant_id) as tenant_id,
        count(*) as span_count,
        sum(coalesce(input_tokens, 0)) as input_tokens,
        sum(coalesce(output_tokens, 0)) as output_tokens,
        sum(cost_usd) as cost_usd
    from int_spans_costed
    where copy_status = 'accepted'
    group by trace_id
),

mart as (
    select
        trace_id,
        tenant_id,
        span_count,
        input_tokens,
        output_tokens,
        cost_usd,
        true as is_present
    from fct_trace_sessions
),

lined_up as (
    select
        coalesce(mart.trace_id, spans.trace_id) as trace_id,
        coalesce(mart.tenant_id, spans.tenant_id) as tenant_id,
        case when mart.is_present then mart.span_count else 0 end as mart_span_count,
        coalesce(spans.span_count, 0) as spans_span_count,
        case when mart.is_present then mart.input_tokens else 0 end as mart_input_tokens,
        coalesce(spans.input_tokens, 0) as spans_input_tokens,
        case when mart.is_present then mart.output_tokens else 0 end as mart_output_tokens,
        coalesce(spans.output_tokens, 0) as spans_output_tokens,
        case when mart.is_present then mart.cost_usd else 0 end as mart_cost_usd,
        coalesce(spans.cost_usd, 0) as spans_cost_usd
    from mart
    full outer join spans on mart.trace_id = spans.trace_id
)

select
    trace_id,
    tenant_id,
    mart_span_count,
    spans_span_count,
    mart_input_tokens,
    spans_input_tokens,
    mart_input_tokens - spans_input_tokens as input_tokens_difference,
    mart_output_tokens,
    spans_output_tokens,
    mart_output_tokens - spans_output_tokens as output_tokens_difference,
    mart_cost_usd,
    spans_cost_usd,
    mart_cost_usd - spans_cost_usd as cost_usd_difference
from lined_up
order by trace_id
