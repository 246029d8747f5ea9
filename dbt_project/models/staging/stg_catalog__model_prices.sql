-- Provider prices per model in USD per million tokens, from the catalog (SPEC 3).
select
    model,
    cast(input_per_million as decimal(38, 12)) as input_per_million,
    cast(output_per_million as decimal(38, 12)) as output_per_million,
    cast(effective_from as date) as effective_from
from {{ source('bronze', 'model_prices') }}
