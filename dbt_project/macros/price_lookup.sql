{#
  Joins the catalog price of `model_column` in force on `date_expr` (the latest effective_from on
  or before that day) to the rows of `relation`, keyed by `key_column`.
#}
{% macro with_model_price(relation, key_column, model_column, date_expr) %}
select
    r.*,
    p.input_per_million,
    p.output_per_million
from {{ relation }} as r
left join (
    select
        r2.{{ key_column }} as priced_key,
        mp.input_per_million,
        mp.output_per_million,
        row_number() over (
            partition by r2.{{ key_column }} order by mp.effective_from desc
        ) as price_rank
    from {{ relation }} as r2
    inner join {{ ref('stg_catalog__model_prices') }} as mp
        on r2.{{ model_column }} = mp.model
        and mp.effective_from <= {{ date_expr | replace('__ROW__', 'r2') }}
) as p
    on r.{{ key_column }} = p.priced_key and p.price_rank = 1
{% endmacro %}
