-- Accepted spans with their provider cost: gen_ai.usage.cost when sent, else model_prices for
-- the span's tokens on its start day, else 0.
{{ accepted_with_provider_cost(ref('int_traces_copies_classified'), 'start_time') }}
