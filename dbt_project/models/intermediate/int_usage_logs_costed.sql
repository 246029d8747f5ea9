-- Accepted LLM requests with their provider cost: costCents when sent, else the catalog's
-- model_prices in force on the request's day, else 0 (model without a price).
with accepted as (
    select * from {{ ref('int_usage_logs_copies_classified') }}
    where copy_status = 'accepted'
),

priced as (
    {{ with_model_price('accepted', 'item_key', 'model', 'cast(__ROW__.event_time as date)') }}
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
