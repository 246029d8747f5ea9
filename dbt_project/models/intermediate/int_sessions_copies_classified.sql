-- Every usable sessions item with its copy status (accepted / duplicate / conflict, SPEC 2.5).
{{ classify_copies(ref('stg_sessions__steps'), 'sessions') }}
