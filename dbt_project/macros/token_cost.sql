{#
  Provider cost in USD of `tokens` at `usd_per_million`, exact: multiplying by 0.000001 keeps
  DECIMAL arithmetic (dividing a DECIMAL by an integer gives a DOUBLE on DuckDB). The casts keep
  the intermediate scale small enough for 38 digits. A product too large for DECIMAL(38, 12)
  fails the build on every engine (not_null_when: Spark would return NULL).
#}
{% macro token_cost(tokens, usd_per_million) %}
    {%- set cost -%}
    cast(
        cast(coalesce({{ tokens }}, 0) as decimal(38, 12))
        * cast({{ usd_per_million }} as decimal(38, 6))
        * cast(0.000001 as decimal(7, 6))
        as decimal(38, 12)
    )
    {%- endset %}
    {{ not_null_when(cost, '(' ~ usd_per_million ~ ') is not null', 'token_cost') }}
{% endmacro %}
