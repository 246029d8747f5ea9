{#
  A fingerprint of a JSON document that does not depend on key order or white space:
  two documents get the same fingerprint exactly when their canonical JSON is equal.
#}
{% macro json_fingerprint(expr) %}
    {{ return(adapter.dispatch('json_fingerprint', 'meterline')(expr)) }}
{% endmacro %}

{% macro duckdb__json_fingerprint(expr) %}
    (
        select md5(string_agg(fullkey || '|' || type || '|' || coalesce(atom::varchar, ''), chr(30)
                   order by fullkey))
        from json_tree({{ expr }})
    )
{% endmacro %}
