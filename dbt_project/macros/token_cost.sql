{#
  Provider cost in USD of `tokens` at `usd_per_million`, exact: multiplying by 0.000001 keeps
  DECIMAL arithmetic (dividing a DECIMAL by an integer gives a DOUBLE on DuckDB). The casts keep
  the intermediate scale small enough for 38 digits.
#}
{% macro token_cost(tokens, usd_per_million) %}
    cast(
        cast(coalesce({{ tokens }}, 0) as decimal(38, 12))
        * cast({{ usd_per_million }} as decimal(38, 6))
        * cast(0.000001 as decimal(7, 6))
        as decimal(38, 12)
    )
{% endmacro %}
