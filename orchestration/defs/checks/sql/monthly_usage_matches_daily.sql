-- Per tenant, meter and billing month, tenant_monthly_usage holds exactly the sum of
-- tenant_daily_usage over the month's UTC days.
with daily as (
    select
        cast(date_trunc('month', usage_date) as date) as usage_month,
        tenant_id,
        meter,
        sum(quantity) as quantity,
        cast(sum(record_count) as bigint) as record_count
    from tenant_daily_usage
    group by 1, 2, 3
),

monthly as (
    select usage_month, tenant_id, meter, quantity, record_count, true as is_present
    from tenant_monthly_usage
)

$line_up
