-- Accepted spans with their provider cost and cost source (SPEC 2.6): gen_ai.usage.cost when
-- sent, else the catalog price of the span's model and provider on its start day for a span with
-- token attributes, else unknown (NULL, unpriced); a span without tokens or cost: 0, none.
-- Agent spans' token totals are not token counts (stg_traces__spans).
{{ accepted_with_provider_cost(
    ref('int_traces_copies_classified'), 'start_time',
    'input_tokens is not null or output_tokens is not null') }}
