-- Accepted spans with their provider cost: gen_ai.usage.cost when sent, else model_prices for
-- the span's tokens on its start day, else 0.
with accepted as (
    select * from {{ ref('int_traces_copies_classified') }}
    where copy_status = 'accepted'
),

priced as (
    {{ with_model_price('accepted', 'item_key', 'model', 'cast(__ROW__.start_time as date)') }}
)

select
    * exclude (input_per_million, output_per_million),
    coalesce(
        source_cost_usd,
        {{ token_cost('input_tokens', 'input_per_million') }}
        + {{ token_cost('output_tokens', 'output_per_million') }},
        0
    ) as cost_usd
from priced
