-- quarantine has one row per quarantined item (file, line, position in the line), each with its
-- source, one SPEC reason and its raw text.
select
    source,
    file,
    line_number,
    item_position,
    reason,
    -- the raw text itself can be a whole OTLP export: its presence is what matters here
    length(raw) as raw_length
from quarantine
order by file, line_number, item_position
