{#
  SPEC 2.5: among items of one source with the same dedup key, the first delivered wins
  (delivery date, then file name in byte order, then line, then position in the line). A later
  copy with the same canonical JSON is a `duplicate`, with different content a `conflict`.
  Returns every row of `relation` with `copy_status` in (accepted, duplicate, conflict).
#}
{% macro classify_copies(relation) %}
with ranked as (
    select
        *,
        row_number() over (
            partition by item_key
            order by delivery_date, source_file, line_number, item_position
        ) as copy_rank,
        first_value(item_json) over (
            partition by item_key
            order by delivery_date, source_file, line_number, item_position
            rows between unbounded preceding and unbounded following
        ) as winner_json
    from {{ relation }}
),

-- Text equality settles almost every copy; only copies whose text differs need the
-- key-order-insensitive comparison, which is the expensive one.
differing as (
    select
        item_key,
        source_file,
        line_number,
        item_position,
        {{ json_fingerprint('item_json') }} = {{ json_fingerprint('winner_json') }} as same_content
    from ranked
    where copy_rank > 1 and item_json <> winner_json
)

select
    ranked.* exclude (copy_rank, winner_json),
    case
        when ranked.copy_rank = 1 then 'accepted'
        when ranked.item_json = ranked.winner_json or differing.same_content then 'duplicate'
        else 'conflict'
    end as copy_status
from ranked
left join differing
    on ranked.item_key = differing.item_key
    and ranked.source_file = differing.source_file
    and ranked.line_number = differing.line_number
    and ranked.item_position = differing.item_position
{% endmacro %}
