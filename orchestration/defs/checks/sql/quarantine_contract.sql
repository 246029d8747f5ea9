-- quarantine has one row per quarantined item (file, line, position in the line), each with its
-- source, one SPEC reason and its raw text.

-- One row per file, reason and source, however many items were quarantined: a NULL in any of
-- them forms its own group, and the other columns count what the suite forbids.
with duplicated_items as (
    select file, line_number, item_position
    from quarantine
    group by file, line_number, item_position
    having count(*) > 1
)

select
    quarantine.file,
    quarantine.reason,
    quarantine.source,
    count(*) as items,
    count(*) - count(quarantine.line_number) as line_number_nulls,
    -- the raw text itself can be a whole OTLP export: its presence is what matters here
    count(*) - count(quarantine.raw) as raw_nulls,
    count(duplicated_items.file) as duplicated_items,
    min(duplicated_items.line_number) as first_duplicated_line
from quarantine
left join duplicated_items
    on quarantine.file = duplicated_items.file
    and quarantine.line_number is not distinct from duplicated_items.line_number
    and quarantine.item_position is not distinct from duplicated_items.item_position
group by 1, 2, 3
order by file, reason, source
