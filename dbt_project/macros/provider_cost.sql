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

-- each price with the day it stops being in force (the model's next effective_from), so an item
-- finds its price with one range join instead of ranking every price ever set for its model
price_periods as (
    select
        model,
        input_per_million,
        output_per_million,
        effective_from,
        lead(effective_from) over (partition by model order by effective_from) as effective_until
    from {{ ref('stg_catalog__model_prices') }}
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
left join price_periods as p
    on a.model = p.model
    and p.effective_from <= cast(a.{{ time_column }} as date)
    and (p.effective_until is null or cast(a.{{ time_column }} as date) < p.effective_until)
{% endmacro %}
