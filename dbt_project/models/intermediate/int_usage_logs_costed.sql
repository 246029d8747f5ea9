-- Accepted LLM requests with their provider cost and cost source (SPEC 2.6): costCents when sent,
-- else the catalog price of the request's model and provider on its day, else unknown (NULL,
-- unpriced). Every request is an LLM call with token counts (a missing count is 0).
{{ accepted_with_provider_cost(ref('int_usage_logs_copies_classified'), 'event_time', 'true') }}
