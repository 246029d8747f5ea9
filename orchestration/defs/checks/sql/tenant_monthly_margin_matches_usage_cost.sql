-- Per invoiced month and tenant, tenant_monthly_margin's provider cost equals the known cost of the
-- tenant's records in fct_usage_records that month, its unpriced items are those records' unpriced
-- items, and its margin is billed_total minus that cost.
with months as (
    select distinct usage_month from tenant_monthly_margin
),

records as (
    select
        cast(date_trunc('month', event_time) as date) as usage_month,
        tenant_id,
        coalesce(sum(cost_usd), 0) as cost_usd,
        -- items, not records: a record key is `<source>:<item key>:<meter>`
        count(distinct regexp_replace(record_key, ':[^:]+$', ''))
            filter (where cost_source = 'unpriced') as unpriced_items
    from fct_usage_records
    where cast(date_trunc('month', event_time) as date) in (select usage_month from months)
    group by 1, 2
),

lined_up as (
    select
        coalesce(mart.usage_month, records.usage_month) as usage_month,
        coalesce(mart.tenant_id, records.tenant_id) as tenant_id,
        coalesce(mart.provider_cost_usd, 0) as mart_cost_usd,
        coalesce(records.cost_usd, 0) as records_cost_usd,
        coalesce(mart.unpriced_items, 0) as mart_unpriced_items,
        coalesce(records.unpriced_items, 0) as records_unpriced_items,
        coalesce(mart.margin_usd, 0) as mart_margin_usd,
        coalesce(mart.billed_total, 0) - coalesce(mart.provider_cost_usd, 0)
            as expected_margin_usd
    from tenant_monthly_margin as mart
    full outer join records
        on mart.usage_month = records.usage_month
        and mart.tenant_id = records.tenant_id
)

select * from lined_up
order by usage_month, tenant_id
