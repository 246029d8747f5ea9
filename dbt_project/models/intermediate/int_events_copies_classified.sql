-- Every usable events item with its copy status (accepted / duplicate / conflict, SPEC 2.5).
{{ classify_copies(ref('stg_events__usage_items'), 'events') }}
