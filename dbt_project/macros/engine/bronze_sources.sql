{#
  The bronze sources from their one engine-neutral definition (`meta.bronze_path` in
  models/staging/_sources.yml, a glob under $METERLINE_HOME/bronze/). DuckDB needs nothing here:
  dbt-duckdb renders each source as read_parquet(<bronze_path>) (external_location). Spark gets a
  view bronze.<table> over the same Parquet files, created before every run (on-run-start), so a
  source() resolves on both engines and always sees the files bronze holds now.
#}
{% macro register_bronze_sources() %}
    {{ return(adapter.dispatch('register_bronze_sources', 'meterline')()) }}
{% endmacro %}

{% macro default__register_bronze_sources() %}
{% endmacro %}

{% macro spark__register_bronze_sources() %}
    {% if execute %}
        {% set bronze = env_var('METERLINE_HOME', '../data') ~ '/bronze/' %}
        {% do run_query('create database if not exists bronze') %}
        {% for source in graph.sources.values() if source.source_name == 'bronze' %}
            {% do run_query(
                'create or replace view bronze.' ~ source.name
                ~ ' as select * from parquet.`' ~ bronze ~ source.meta.bronze_path ~ '`'
            ) %}
        {% endfor %}
        {# the run's batch (macros/incremental.sql), written by the dbt step before dbt starts #}
        {% do run_query('create database if not exists run') %}
        {% do run_query(
            'create or replace view run.batch_files as select * from parquet.`'
            ~ env_var('METERLINE_HOME', '../data') ~ '/warehouse/batch_files.parquet`'
        ) %}
    {% endif %}
{% endmacro %}
