-- Provider prices per model in USD per million tokens, from the catalog (SPEC 3): one row per
-- (model, provider, effective_from); provider NULL = the price for every other provider. Cache
-- prices arrive resolved (the input price when the entry gives none).
select
    model,
    cast(model_order as bigint) as model_order,
    match,
    provider,
    cast(input_per_million as decimal(38, 12)) as input_per_million,
    cast(output_per_million as decimal(38, 12)) as output_per_million,
    cast(cache_read_per_million as decimal(38, 12)) as cache_read_per_million,
    cast(cache_write_per_million as decimal(38, 12)) as cache_write_per_million,
    cast(effective_from as date) as effective_from
from {{ source('bronze', 'model_prices') }}
