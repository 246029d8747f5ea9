{#
  The canonical form of a JSON document, for duplicate-vs-conflict (SPEC 2.5): two copies have the
  same content exactly when their fingerprints are equal. One rule on every engine
  (docs/decisions.md "Canonical JSON"):
  - objects compare as sets of keys (key order and white space do not matter); a key repeated in
    one object keeps its last value;
  - arrays compare element by element, in order;
  - strings compare by their characters (escapes decoded: "\u0041" = "A");
  - numbers compare by their value as 64-bit binary floats: 1 = 1.0 = 1e0, -0.0 = 0, and digits
    beyond a double's precision do not count;
  - true, false, null, numbers, strings, objects and arrays never equal one another.
  The fingerprint is the canonical text itself (no hash, so no collision); engines may spell it
  differently, only equality within one engine matters.
#}
{% macro json_fingerprint(expr) %}
    {{ return(adapter.dispatch('json_fingerprint', 'meterline')(expr)) }}
{% endmacro %}

{#
  DuckDB: the leaves of json_tree (path, kind, value), in path order. An occurrence of a repeated
  key, and everything below it, is dropped when a later sibling has the same key: json_tree
  numbers nodes in document order, so the nodes below an occurrence are those whose id lies
  between it and the next sibling with that key.
#}
{% macro duckdb__json_fingerprint(expr) %}
    (
        with nodes as (
            select id, parent, key, fullkey, type, atom from json_tree({{ expr }})
        ),

        overridden as (
            select earlier.id as from_id, min(later.id) as until_id
            from nodes as earlier
            inner join nodes as later
                on earlier.parent = later.parent
                and earlier.key = later.key
                and later.id > earlier.id
            group by earlier.id
        )

        select string_agg(
            fullkey || '|'
            || case
                when type in ('UBIGINT', 'BIGINT', 'HUGEINT', 'DOUBLE')
                    then 'number|' || cast(cast(atom as double) + 0.0 as varchar)
                when type in ('OBJECT', 'ARRAY') then lower(type) || '|'
                else lower(type) || '|' || coalesce(cast(atom as varchar), '')
            end,
            chr(30) order by fullkey
        )
        from nodes
        where not exists (
            select 1 from overridden
            where nodes.id >= overridden.from_id and nodes.id < overridden.until_id
        )
    )
{% endmacro %}

{#
  Spark: parse_json already sorts object keys, keeps a repeated key's last value
  (spark.sql.variant.allowDuplicateKeys, profiles.yml) and decodes strings; to_json spells the
  result without white space. Its numbers keep their parsed type (1 a long, 1.5 a decimal, 1e2 a
  double), so every number token outside a string is re-spelled as a double.
#}
{% macro spark__json_fingerprint(expr) %}
    array_join(
        transform(
            regexp_extract_all(
                to_json(parse_json({{ expr }})),
                r'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|[^"0-9-]+',
                0
            ),
            token -> case
                when token rlike r'^-?[0-9]' then cast(cast(token as double) + 0.0 as string)
                else token
            end
        ),
        ''
    )
{% endmacro %}
