-- What the platform paid its providers per accepted item (COGS): LLM requests, spans (cost
-- attribute or model_prices) and session steps. Never used to price an invoice.
select 'usage_logs' as source, item_key, tenant_id, event_time, cost_usd
from {{ ref('int_usage_logs_costed') }}
union all
select 'traces', item_key, tenant_id, start_time, cost_usd
from {{ ref('int_spans_costed') }}
union all
select 'sessions', item_key, tenant_id, event_time, coalesce(source_cost_usd, 0)
from {{ ref('int_sessions_copies_classified') }}
where copy_status = 'accepted'
