{#
  Incremental runs (SPEC 9, docs/incremental.md). A run builds from a batch: the bronze files
  ingested since the last published build (`stg_ingest__batch_files`, written by the transform
  asset). Every incremental model recomputes whole units that the batch can change and replaces
  them: the copies of the item keys the batch carries, the traces its spans belong to, the UTC
  days (or months) on which any copy of those keys or any span of those traces lies. Because a
  unit is always recomputed from all of its inputs, building the same batch twice gives the same
  tables (a run that failed a check re-runs its batch), and the result equals a full refresh.
#}

{#
  The incremental models' materialization. dbt-spark with plain Parquet has neither delete+insert
  nor custom strategies (Delta/Iceberg jars cannot be fetched here), and a Spark build always
  rebuilds in full (orchestration/defs/transform/build_batch.py): there the same models are
  tables, computed by their full-refresh form (docs/scale-out.md).
#}
{% macro incremental_materialization() %}
    {{ return(adapter.dispatch('incremental_materialization', 'meterline')()) }}
{% endmacro %}

{% macro default__incremental_materialization() %}
    {{ return('incremental') }}
{% endmacro %}

{% macro spark__incremental_materialization() %}
    {{ return('table') }}
{% endmacro %}

{# SQL predicate: the row comes from a file of this run's batch. #}
{% macro in_batch(file_column='source_file') -%}
    {{ file_column }} in (select file from {{ ref('stg_ingest__batch_files') }})
{%- endmacro %}

{#
  The UTC days this run recomputes (int_touched_days), as ISO strings, read when the model runs.
  Rendered as literals so the engine can skip storage blocks by their min/max (a subquery would
  not be pushed into the scan).
#}
{% macro touched_days() %}
    {% if not execute %}{{ return([]) }}{% endif %}
    {# the relation by name (models declare the dependency with a depends_on comment; tests
       reach this through get_where_subquery, where a ref would be a new dependency) #}
    {% set days_model = graph.nodes['model.meterline.int_touched_days'] %}
    {% set result = run_query("select distinct cast(usage_date as varchar) from "
                              ~ days_model.relation_name ~ " order by 1") %}
    {{ return(result.columns[0].values() | list) }}
{% endmacro %}

{% macro touched_months() %}
    {% set months = [] %}
    {% for day in touched_days() %}
        {% if day[:7] ~ '-01' not in months %}{% do months.append(day[:7] ~ '-01') %}{% endif %}
    {% endfor %}
    {{ return(months) }}
{% endmacro %}

{#
  SQL predicate: the timestamp (or date) expression `ts` falls on a touched day (grain 'day') or in
  a touched month (grain 'month'). A range on the bare column lets the engine skip blocks; the
  exact membership test follows.
#}
{% macro in_touched_windows(ts, grain='day') -%}
    {%- set windows = touched_days() if grain == 'day' else touched_months() -%}
    {%- if windows | length == 0 -%}
        false
    {%- else -%}
        {%- set last = windows[-1] -%}
        {%- set end_expr = "cast('" ~ last ~ "' as date) + interval 1 " ~ grain -%}
        ({{ ts }} >= cast('{{ windows[0] }}' as date) and {{ ts }} < {{ end_expr }}
         and cast({{ dbt.date_trunc(grain, ts) }} as date) in (
            {%- for w in windows %}cast('{{ w }}' as date){{ ", " if not loop.last }}{% endfor -%}
         ))
    {%- endif -%}
{%- endmacro %}

{#
  Custom incremental strategy `replace_windows`: delete every row of the touched windows (config
  `window_column`, `window_grain`: day or month) and insert the recomputed ones. Unlike
  delete+insert on a key, a window that no longer has any row is emptied too.
#}
{% macro get_incremental_replace_windows_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set cols = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }}
    where {{ in_touched_windows(config.get('window_column'), config.get('window_grain', 'day')) }};
    insert into {{ target }} ({{ cols }}) (select {{ cols }} from {{ source }})
{% endmacro %}

{#
  Config of a model whose windows (UTC days, or months) an incremental run replaces: the rows of
  the touched windows of `window_column` (strategy below). Changed prices rebuild it in full.
#}
{% macro replace_windows_config(window_column, grain='day') %}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='replace_windows',
        window_column=window_column,
        window_grain=grain,
        full_refresh=reprice_full_refresh(),
        on_schema_change='fail',
    ) }}
{% endmacro %}

{#
  Config of the models downstream of provider prices: a changed `model_prices` (var `reprice`, set
  by the transform asset, which compares the prices with those of the last build) rebuilds them in
  full; it is rare (a catalog edit) and measured in docs/incremental.md.
#}
{% macro reprice_full_refresh() %}
    {{ return(true if var('reprice', false) else none) }}
{% endmacro %}

{#
  Data tests of a windowed model (config `window_column`) check only the windows this run
  replaced: rows elsewhere did not change since they were checked. A full refresh or a reprice
  checks everything. Overrides dbt's get_where_subquery, which every generic test calls.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set tested = [] -%}
    {%- for node in (graph.nodes.values() if execute else []) -%}
        {%- if node.resource_type == 'model' and node.name == relation.identifier -%}
            {%- do tested.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set window_column = tested[0].config.get('window_column') if tested else none -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if window_column and not flags.FULL_REFRESH and not var('reprice', false) -%}
        {%- do conditions.append(in_touched_windows(window_column,
                                                    tested[0].config.get('window_grain', 'day'))) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ')
                      ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#
  The bronze rows a staging model reads. An incremental run reads only its batch: the transform
  asset hard-links the batch's bronze files (and the table's schema file) into
  warehouse/batch/<table>/ (build_batch.py), so reading them costs what arrived, not one Parquet
  footer per file in bronze. A full refresh, and every other engine (which always builds in
  full), read all of bronze.
#}
{% macro bronze_rows(table) -%}
    {%- if flags.FULL_REFRESH or target.type != 'duckdb' -%}
        {{ source('bronze', table) }}
    {%- else -%}
        {%- do source('bronze', table) -%}
        read_parquet('{{ env_var('METERLINE_HOME', '../data') }}/warehouse/batch/{{ table }}/*.parquet', union_by_name = true)
    {%- endif -%}
{%- endmacro %}
