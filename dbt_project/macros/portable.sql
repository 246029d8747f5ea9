{# Engine-specific expressions behind adapter.dispatch so the models stay portable. #}

{% macro duration_ms(start_ts, end_ts) %}
    {{ return(adapter.dispatch('duration_ms', 'meterline')(start_ts, end_ts)) }}
{% endmacro %}

{% macro default__duration_ms(start_ts, end_ts) %}
    (epoch_ms({{ end_ts }}) - epoch_ms({{ start_ts }}))
{% endmacro %}

{% macro p95(expr) %}
    {{ return(adapter.dispatch('p95', 'meterline')(expr)) }}
{% endmacro %}

{% macro default__p95(expr) %}
    percentile_cont(0.95) within group (order by {{ expr }})
{% endmacro %}
