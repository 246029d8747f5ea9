{#
  SPEC 2.5: among items of one source with the same dedup key, the first delivered wins
  (delivery date, then file name in byte order, then line, then position in the line). A later
  copy with the same canonical JSON is a `duplicate`, with different content a `conflict`.
  Returns every row of `relation` but its `item_json`, with `copy_status` in (accepted,
  duplicate, conflict).

  A copy is identified by (item_key, source_file, line_number, item_position). Copies are ranked on
  those narrow columns only, and the item text is read back just for the few later copies and
  their winners: carrying every item's JSON through the ranking sort cost more time and memory
  than the rest of the model.
#}
{% macro classify_copies(relation) %}
with ranked as (
    select
        item_key,
        source_file,
        line_number,
        item_position,
        row_number() over (
            partition by item_key
            order by delivery_date, source_file, line_number, item_position
        ) as copy_rank
    from {{ relation }}
),

later_copies as (
    select
        later.item_key,
        later.source_file,
        later.line_number,
        later.item_position,
        -- text equality settles almost every copy; the key-order-insensitive comparison is
        -- the expensive one
        later_item.item_json = winner_item.item_json
        or {{ json_fingerprint('later_item.item_json') }}
            = {{ json_fingerprint('winner_item.item_json') }} as same_content
    from ranked as later
    inner join ranked as winner
        on later.item_key = winner.item_key
        and winner.copy_rank = 1
    inner join {{ relation }} as later_item
        on later.item_key = later_item.item_key
        and later.source_file = later_item.source_file
        and later.line_number = later_item.line_number
        and later.item_position = later_item.item_position
    inner join {{ relation }} as winner_item
        on winner.item_key = winner_item.item_key
        and winner.source_file = winner_item.source_file
        and winner.line_number = winner_item.line_number
        and winner.item_position = winner_item.item_position
    where later.copy_rank > 1
)

select
    {{ star_except(['item_json'], 'items') }},
    case
        when ranked.copy_rank = 1 then 'accepted'
        when later_copies.same_content then 'duplicate'
        else 'conflict'
    end as copy_status
from {{ relation }} as items
inner join ranked
    on items.item_key = ranked.item_key
    and items.source_file = ranked.source_file
    and items.line_number = ranked.line_number
    and items.item_position = ranked.item_position
left join later_copies
    on items.item_key = later_copies.item_key
    and items.source_file = later_copies.source_file
    and items.line_number = later_copies.line_number
    and items.item_position = later_copies.item_position
{% endmacro %}
