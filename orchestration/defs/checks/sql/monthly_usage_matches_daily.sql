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
),

lined_up as (
    select
        coalesce(monthly.usage_month, daily.usage_month) as usage_month,
        coalesce(monthly.tenant_id, daily.tenant_id) as tenant_id,
        coalesce(monthly.meter, daily.meter) as meter,
        case when monthly.is_present then monthly.quantity else 0 end as monthly_quantity,
        coalesce(daily.quantity, 0) as daily_quantity,
        case when monthly.is_present then monthly.record_count else 0 end as monthly_record_count,
        coalesce(daily.record_count, 0) as daily_record_count
    from monthly
    full outer join daily
        on monthly.usage_month = daily.usage_month
        and monthly.tenant_id = daily.tenant_id
        and monthly.meter = daily.meter
)

select
    usage_month,
    tenant_id,
    meter,
    monthly_quantity,
    daily_quantity,
    monthly_quantity - daily_quantity as quantity_difference,
    monthly_record_count,
    daily_record_count,
    monthly_record_count - daily_record_count as record_count_difference
from lined_up
order by usage_month, tenant_id, meter
