{# Fails with the rows for which `expression` is false or NULL: a rule between columns of a row. #}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
