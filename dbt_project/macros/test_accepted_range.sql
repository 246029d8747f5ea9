{# Fails with the rows whose `column_name` is below `min_value` (NULLs are not_null's business). #}
{% test accepted_range(model, column_name, min_value) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }}
{% endtest %}
