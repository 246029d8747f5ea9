-- fct_usage_records has one row per record_key, each naming its source, tenant, a SPEC meter and
-- its event time, with a quantity and a cost that are never negative; the cost is missing only on
-- the records of unpriced items.

-- One row per UTC day, tenant, meter and source of the records, however many records there are:
-- a NULL in any of them forms its own group, and the other columns count what the suite forbids.
-- Grouping 8-byte hashes of the keys is cheaper than grouping the keys: only the keys whose hash
-- is shared are then grouped by their text.
with colliding_hashes as (
    select hash(record_key) as key_hash
    from fct_usage_records
    group by key_hash
    having count(*) > 1
),

duplicated_keys as (
    select record_key
    from fct_usage_records
    where hash(record_key) in (select key_hash from colliding_hashes)
    group by record_key
    having count(*) > 1
)

select
    cast(records.event_time as date) as usage_date,
    records.tenant_id,
    records.meter,
    records.source,
    count(*) as records,
    count(*) - count(records.record_key) as record_key_nulls,
    count(duplicated_keys.record_key) as duplicated_records,
    min(duplicated_keys.record_key) as first_duplicated_key,
    count(*) - count(records.quantity) as quantity_nulls,
    count(*) filter (
        where records.cost_usd is null and records.cost_source is distinct from 'unpriced'
    ) as cost_usd_nulls,
    -- the sign survives the cast to DOUBLE exactly; exact totals are the reconciliations' job
    cast(min(records.quantity) as double) as min_quantity,
    cast(min(records.cost_usd) as double) as min_cost_usd
from fct_usage_records as records
left join duplicated_keys on records.record_key = duplicated_keys.record_key
group by 1, 2, 3, 4
order by usage_date, tenant_id, meter, source
