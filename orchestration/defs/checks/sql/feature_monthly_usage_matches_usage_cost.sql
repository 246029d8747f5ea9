-- Per UTC month, tenant and source, feature_monthly_usage's cost equals the known cost of
-- fct_usage_records plus the sent cost of accepted spans that yield no record (no token counts).
with records as (
    select
        cast(date_trunc('month', event_time) as date) as usage_month,
        tenant_id,
        source,
        coalesce(sum(cost_usd), 0) as cost_usd
    from fct_usage_records
    where source <> 'events'
    group by 1, 2, 3

    union all

    select
        cast(date_trunc('month', start_time) as date),
        tenant_id,
        'traces',
        coalesce(sum(cost_usd), 0)
    from int_spans_costed
    where input_tokens is null and output_tokens is null
    group by 1, 2
),

facts as (
    select usage_month, tenant_id, source, sum(cost_usd) as cost_usd
    from records
    group by 1, 2, 3
),

mart as (
    select usage_month, tenant_id, source, coalesce(sum(cost_usd), 0) as cost_usd
    from feature_monthly_usage
    group by 1, 2, 3
)

$line_up
