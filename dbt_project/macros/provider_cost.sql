{#
  The accepted items of `classified` (an int_<source>_copies_classified model) with their provider
  cost in USD: the cost the source sent when present, else the item's tokens at the catalog price
  of its model in force on the UTC day of `time_column` (the latest effective_from on or before
  that day), else 0 (a model without a price).
#}
{% macro accepted_with_provider_cost(classified, time_column) %}
with accepted as (
    select * from {{ classified }}
    where copy_status = 'accepted'
),

prices_in_force as (
    select
        a.item_key,
        mp.input_per_million,
        mp.output_per_million,
        row_number() over (partition by a.item_key order by mp.effective_from desc) as price_rank
    from accepted as a
    inner join {{ ref('stg_catalog__model_prices') }} as mp
        on a.model = mp.model
        and mp.effective_from <= cast(a.{{ time_column }} as date)
)

select
    a.*,
    coalesce(
        a.source_cost_usd,
        {{ token_cost('a.input_tokens', 'p.input_per_million') }}
        + {{ token_cost('a.output_tokens', 'p.output_per_million') }},
        0
    ) as cost_usd
from accepted as a
left join prices_in_force as p
    on a.item_key = p.item_key and p.price_rank = 1
{% endmacro %}
