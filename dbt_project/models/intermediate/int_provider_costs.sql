-- What the platform paid its providers per accepted item (COGS): LLM requests, spans (cost
-- attribute or model_prices) and session steps, with the cost source (SPEC 2.6); cost_usd is NULL
-- for unpriced items. Never used to price an invoice.
-- A view: its readers look at a few days (platform_daily_cost, the windowed checks) or at the
-- unpriced items only (unpriced_usage); a table rewrote all of history on every run.
{{ config(materialized='view') }}
select
    'usage_logs' as source, item_key, tenant_id, event_time, cost_usd, cost_source, provider, model,
    input_tokens, output_tokens
from {{ ref('int_usage_logs_costed') }}
union all
select
    'traces', item_key, tenant_id, start_time, cost_usd, cost_source, provider, model,
    input_tokens, output_tokens
from {{ ref('int_spans_costed') }}
union all
select
    'sessions', item_key, tenant_id, event_time, coalesce(source_cost_usd, 0),
    case when source_cost_usd is not null then 'source' else 'none' end, provider, null,
    null, null
from {{ ref('int_sessions_copies_classified') }}
where copy_status = 'accepted'
