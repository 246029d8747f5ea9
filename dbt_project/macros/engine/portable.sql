{#
  Engine-specific SQL behind adapter.dispatch, so the models run unchanged on DuckDB and Spark
  (docs/scale-out.md). Every engine difference of the models lives in macros/engine/.
#}

{# Milliseconds from start_ts to end_ts; each time is rounded to the nearest ms first (DuckDB's
   epoch_ms rounds half up; times are after 2000, so never negative). #}
{% macro duration_ms(start_ts, end_ts) %}
    {{ return(adapter.dispatch('duration_ms', 'meterline')(start_ts, end_ts)) }}
{% endmacro %}

{% macro default__duration_ms(start_ts, end_ts) %}
    (epoch_ms({{ end_ts }}) - epoch_ms({{ start_ts }}))
{% endmacro %}

{% macro spark__duration_ms(start_ts, end_ts) %}
    ((unix_micros({{ end_ts }}) + 500) div 1000 - (unix_micros({{ start_ts }}) + 500) div 1000)
{% endmacro %}

{#
  The continuous 95th percentile (linear interpolation) and the mean of millisecond durations, as
  DOUBLE rounded to 3 places (a microsecond): the engines interpolate and divide in a different
  order and would otherwise differ in the last binary digit (6826.7 vs 6826.699999999999).
#}
{% macro p95(expr) %}
    round(percentile_cont(0.95) within group (order by {{ expr }}), 3)
{% endmacro %}

{% macro mean_ms(expr) %}
    round(avg({{ expr }}), 3)
{% endmacro %}

{# `[alias.]*` without `columns`: DuckDB spells it EXCLUDE, Spark EXCEPT. #}
{% macro star_except(columns, alias=none) %}
    {{ return(adapter.dispatch('star_except', 'meterline')(columns, alias)) }}
{% endmacro %}

{% macro default__star_except(columns, alias) %}
    {{ alias ~ '.' if alias }}* exclude ({{ columns | join(', ') }})
{% endmacro %}

{% macro spark__star_except(columns, alias) %}
    {{ alias ~ '.' if alias }}* except ({{ columns | join(', ') }})
{% endmacro %}

{# True when `value` matches the regular expression `pattern` as a whole (RE2 / Java syntax:
   the catalog's `match` patterns use the part both share). #}
{% macro regex_full_match(value, pattern) %}
    {{ return(adapter.dispatch('regex_full_match', 'meterline')(value, pattern)) }}
{% endmacro %}

{% macro default__regex_full_match(value, pattern) %}
    regexp_full_match({{ value }}, {{ pattern }})
{% endmacro %}

{% macro spark__regex_full_match(value, pattern) %}
    ({{ value }} rlike concat('^(?:', {{ pattern }}, ')$'))
{% endmacro %}
