{#
  SPEC 2.5: among items of one source with the same dedup key, the first delivered wins
  (delivery date, then file name in byte order, then line, then position in the line). A later
  copy with the same canonical JSON is a `duplicate`, with different content a `conflict`.
  Returns every row of `relation` but its `item_json`, with `content_hash` (MD5 of the item's
  text) and `copy_status` in (accepted, duplicate, conflict).

  The model is its own index of the keys already seen (SPEC 9): an incremental run re-ranks only
  the copies of the keys its batch carries, the batch's items with those already classified (a
  file that appears later in an older delivery folder can still displace a winner). A copy is
  identified by (item_key, source_file, line_number, item_position).

  Equal text hashes settle almost every copy. The key-order-insensitive comparison is costly
  (about 0.4 ms an item), so it runs only on later copies whose text differs from their winner's,
  reading those texts back from bronze (`bronze_table`: an incremental run's staging `relation`
  holds its batch only, and a winner may be older).
#}
{% macro classify_copies(relation, bronze_table) %}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='item_key',
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('stg_ingest__batch_files') }}
-- depends_on: {{ source('bronze', bronze_table) }}
with
{% if is_incremental() %}
batch as (
    select {{ star_except(['item_json']) }}, md5(item_json) as content_hash
    from {{ relation }}
    where {{ in_batch() }}
),

copies as (
    select * from batch
    union all
    -- the copies classified earlier (a re-run of the same batch does not count them twice)
    select {{ star_except(['copy_status']) }}
    from {{ this }}
    where item_key in (select item_key from batch)
        and not {{ in_batch() }}
),
{% else %}
copies as (
    select {{ star_except(['item_json']) }}, md5(item_json) as content_hash
    from {{ relation }}
),
{% endif %}

ranked as (
    select
        *,
        row_number() over (
            partition by item_key
            order by delivery_date, source_file, line_number, item_position
        ) as copy_rank
    from copies
),

winners as (
    select item_key, source_file, line_number, item_position, content_hash
    from ranked
    where copy_rank = 1
),

differing as (
    select
        later.item_key,
        later.source_file,
        later.line_number,
        later.item_position,
        winner.source_file as winner_file,
        winner.line_number as winner_line,
        winner.item_position as winner_position
    from ranked as later
    inner join winners as winner on later.item_key = winner.item_key
    where later.copy_rank > 1 and later.content_hash <> winner.content_hash
),

needed_texts as (
    select item_key, source_file, line_number, item_position from differing
    union
    select item_key, winner_file, winner_line, winner_position from differing
),

texts as (
    select items.item_key, items.source_file, items.line_number, items.item_position,
        items.item_json
    from {% if is_incremental() %}{{ source('bronze', bronze_table) }}{% else %}{{ relation }}{% endif %}
        as items
    inner join needed_texts as needed
        on items.item_key = needed.item_key
        and items.source_file = needed.source_file
        and items.line_number = needed.line_number
        and items.item_position = needed.item_position
),

compared as (
    select
        differing.item_key,
        differing.source_file,
        differing.line_number,
        differing.item_position,
        {{ json_fingerprint('later_text.item_json') }}
            = {{ json_fingerprint('winner_text.item_json') }} as same_content
    from differing
    inner join texts as later_text
        on differing.item_key = later_text.item_key
        and differing.source_file = later_text.source_file
        and differing.line_number = later_text.line_number
        and differing.item_position = later_text.item_position
    inner join texts as winner_text
        on differing.item_key = winner_text.item_key
        and differing.winner_file = winner_text.source_file
        and differing.winner_line = winner_text.line_number
        and differing.winner_position = winner_text.item_position
)

select
    {{ star_except(['copy_rank'], 'ranked') }},
    case
        when ranked.copy_rank = 1 then 'accepted'
        when ranked.content_hash = winner.content_hash then 'duplicate'
        when compared.same_content then 'duplicate'
        else 'conflict'
    end as copy_status
from ranked
inner join winners as winner on ranked.item_key = winner.item_key
left join compared
    on ranked.item_key = compared.item_key
    and ranked.source_file = compared.source_file
    and ranked.line_number = compared.line_number
    and ranked.item_position = compared.item_position
{% endmacro %}
