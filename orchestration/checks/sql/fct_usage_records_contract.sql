-- fct_usage_records has one row per record_key, each naming its source, tenant, a SPEC meter and
-- its event time, with a quantity and a cost that are never negative.
select
    record_key,
    source,
    tenant_id,
    meter,
    -- sign and NULL survive the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(quantity as double) as quantity,
    event_time,
    cast(cost_usd as double) as cost_usd
from fct_usage_records
order by record_key
