-- Every usable usage_logs item with its copy status (accepted / duplicate / conflict, SPEC 2.5).
{{ classify_copies(ref('stg_usage_logs__requests'), 'usage_logs') }}
