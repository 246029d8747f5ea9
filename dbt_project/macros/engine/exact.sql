{#
  Exact numbers on every engine. DuckDB raises an error on a bad cast or a DECIMAL overflow.
  Spark, as dbt-spark runs it (ANSI mode forced off), returns NULL instead, and a NULL sum later
  read as 0 would bill or cost $0 silently: on Spark these macros raise the error themselves, so
  both engines fail the build alike. Money keeps every digit on Spark because the profile sets
  spark.sql.decimalOperations.allowPrecisionLoss=false (profiles.yml).
#}

{# cast(expr as type), failing instead of turning a value that does not fit into NULL. #}
{% macro checked_cast(expr, type) %}
    {{ return(adapter.dispatch('checked_cast', 'meterline')(expr, type)) }}
{% endmacro %}

{% macro default__checked_cast(expr, type) %}
    cast({{ expr }} as {{ type }})
{% endmacro %}

{% macro spark__checked_cast(expr, type) %}
    case
        when ({{ expr }}) is not null and cast({{ expr }} as {{ type }}) is null
            then raise_error(concat('cannot cast ', cast({{ expr }} as string), ' to {{ type }}'))
        else cast({{ expr }} as {{ type }})
    end
{% endmacro %}

{# The exact sum of `expr` as DECIMAL(38, 12): NULL only when every value is NULL; an overflow
   is an error. #}
{% macro sum_exact(expr) %}
    {{ return(adapter.dispatch('sum_exact', 'meterline')(expr)) }}
{% endmacro %}

{% macro default__sum_exact(expr) %}
    cast(sum({{ expr }}) as decimal(38, 12))
{% endmacro %}

{% macro spark__sum_exact(expr) %}
    case
        when count({{ expr }}) > 0 and cast(sum({{ expr }}) as decimal(38, 12)) is null
            then raise_error('DECIMAL(38, 12) overflow in sum({{ expr | replace("'", "") }})')
        else cast(sum({{ expr }}) as decimal(38, 12))
    end
{% endmacro %}

{# `expr`, failing when it is NULL although `inputs_present` holds (a Spark overflow). #}
{% macro not_null_when(expr, inputs_present, what) %}
    {{ return(adapter.dispatch('not_null_when', 'meterline')(expr, inputs_present, what)) }}
{% endmacro %}

{% macro default__not_null_when(expr, inputs_present, what) %}
    {{ expr }}
{% endmacro %}

{% macro spark__not_null_when(expr, inputs_present, what) %}
    case
        when ({{ inputs_present }}) and ({{ expr }}) is null
            then raise_error('DECIMAL overflow in {{ what }}')
        else {{ expr }}
    end
{% endmacro %}
