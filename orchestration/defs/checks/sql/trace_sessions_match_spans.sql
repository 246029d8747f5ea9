-- Per trace, fct_trace_sessions carries exactly the span count, tokens, known provider cost and
-- unpriced span count summed over the trace's accepted spans.

-- Both sides are summed per trace (a duplicated mart row doubles its trace), lined up, and summed
-- again per tenant and UTC day of the trace's start, next to the number of traces whose sides
-- differ: differences that cancel out within a day still fail.
with spans as (
    select
        trace_id,
        min(tenant_id) as tenant_id,
        min(start_time) as started_at,
        count(*) as span_count,
        sum(coalesce(input_tokens, 0)) as input_tokens,
        sum(coalesce(output_tokens, 0)) as output_tokens,
        sum(cost_usd) as cost_usd,
        count(*) filter (where cost_source = 'unpriced') as unpriced_spans
    from int_spans_costed
    where copy_status = 'accepted'
    group by trace_id
),

mart as (
    select
        trace_id,
        min(tenant_id) as tenant_id,
        min(started_at) as started_at,
        cast(sum(span_count) as bigint) as span_count,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cost_usd) as cost_usd,
        cast(sum(unpriced_spans) as bigint) as unpriced_spans,
        true as is_present
    from fct_trace_sessions
    group by trace_id
),

lined_up as (
    select
        cast(coalesce(mart.started_at, spans.started_at) as date) as usage_date,
        coalesce(mart.tenant_id, spans.tenant_id) as tenant_id,
        coalesce(mart.trace_id, spans.trace_id) as trace_id,
        -- a side without the trace counts 0; a NULL in the mart stays NULL and fails
        case when mart.is_present then mart.span_count else 0 end as mart_span_count,
        coalesce(spans.span_count, 0) as spans_span_count,
        case when mart.is_present then mart.input_tokens else 0 end as mart_input_tokens,
        coalesce(spans.input_tokens, 0) as spans_input_tokens,
        case when mart.is_present then mart.output_tokens else 0 end as mart_output_tokens,
        coalesce(spans.output_tokens, 0) as spans_output_tokens,
        case when mart.is_present then mart.cost_usd else 0 end as mart_cost_usd,
        -- unpriced spans have no known cost: a trace of only unpriced spans sums to 0
        coalesce(spans.cost_usd, 0) as spans_cost_usd,
        case when mart.is_present then mart.unpriced_spans else 0 end as mart_unpriced_spans,
        coalesce(spans.unpriced_spans, 0) as spans_unpriced_spans
    from mart
    full outer join spans on mart.trace_id = spans.trace_id
),

compared as (
    select
        *,
        mart_span_count is distinct from spans_span_count
        or mart_input_tokens is distinct from spans_input_tokens
        or mart_output_tokens is distinct from spans_output_tokens
        or mart_cost_usd is distinct from spans_cost_usd
        or mart_unpriced_spans is distinct from spans_unpriced_spans as is_off
    from lined_up
)

select
    usage_date,
    tenant_id,
    count(*) as traces,
    count(*) filter (where is_off) as traces_off,
    min(trace_id) filter (where is_off) as first_trace_off,
    cast(sum(mart_span_count) as bigint) as mart_span_count,
    cast(sum(spans_span_count) as bigint) as spans_span_count,
    cast(sum(mart_span_count) - sum(spans_span_count) as bigint) as span_count_difference,
    sum(mart_input_tokens) as mart_input_tokens,
    sum(spans_input_tokens) as spans_input_tokens,
    sum(mart_input_tokens) - sum(spans_input_tokens) as input_tokens_difference,
    sum(mart_output_tokens) as mart_output_tokens,
    sum(spans_output_tokens) as spans_output_tokens,
    sum(mart_output_tokens) - sum(spans_output_tokens) as output_tokens_difference,
    sum(mart_cost_usd) as mart_cost_usd,
    sum(spans_cost_usd) as spans_cost_usd,
    sum(mart_cost_usd) - sum(spans_cost_usd) as cost_usd_difference,
    cast(sum(mart_unpriced_spans) as bigint) as mart_unpriced_spans,
    cast(sum(spans_unpriced_spans) as bigint) as spans_unpriced_spans
from compared
group by usage_date, tenant_id
order by usage_date, tenant_id
