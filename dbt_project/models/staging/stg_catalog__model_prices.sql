-- Provider prices per model in USD per million tokens, from the catalog (SPEC 3): one row per
-- (model, provider, effective_from); provider NULL = the price for every other provider. Cache
-- prices arrive resolved (the input price when the entry gives none).
select
    model,
    {{ checked_cast("model_order", 'bigint') }} as model_order,
    match,
    provider,
    {{ checked_cast("input_per_million", 'decimal(38, 12)') }} as input_per_million,
    {{ checked_cast("output_per_million", 'decimal(38, 12)') }} as output_per_million,
    {{ checked_cast("cache_read_per_million", 'decimal(38, 12)') }} as cache_read_per_million,
    {{ checked_cast("cache_write_per_million", 'decimal(38, 12)') }} as cache_write_per_million,
    {{ checked_cast("effective_from", 'date') }} as effective_from
from {{ source('bronze', 'model_prices') }}
