-- Accepted LLM requests with their provider cost: costCents when sent, else the catalog's
-- model_prices in force on the request's day, else 0 (model without a price).
{{ accepted_with_provider_cost(ref('int_usage_logs_copies_classified'), 'event_time') }}
