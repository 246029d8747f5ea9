"""Per-source SQL that turns the numbered lines of one raw file into typed items (SPEC 2.1-2.5).

Each query reads the relation `lines(line_number, raw, utf8_ok)` and the parameters `$delivery_date` (DATE)
and returns one row per item: where it came from (line_number, item_position), the quarantine
`reason` (NULL when usable; the first that applies in SPEC 2.5 order), `item_json` (the item's own
JSON, or the whole line when the line is unusable), `item_key` (the dedup key, NULL for events /
usage_logs lines that have no key field: those are keyed by content hash afterwards) and the typed
fields of the source.
"""

from __future__ import annotations

from orchestration.core.meters import EVENT_METERS
from orchestration.core.sql_text import sql_literal
from orchestration.defs.ingest.sql_macros import EXACT_NUMBERS, OTLP_VALUE

# The lines that are JSON objects within SPEC 2's size and depth limits, parsed once; the others
# become one malformed_json item each.
_OBJECT_LINES = """
parsed AS (
    SELECT line_number, raw,
           CASE WHEN utf8_ok AND ml_readable_json(raw) THEN json_type(raw) = 'OBJECT' ELSE false END
               AS is_object
    FROM lines
)
"""

_FUTURE = "$delivery_date::TIMESTAMPTZ + INTERVAL 2 DAY"
_EVENT_METERS = ", ".join(sql_literal(meter) for meter in EVENT_METERS)


def _optional_quantity(raw: str) -> str:
    """A token detail as `ml_quantity` reads it, parsed only where the field is there: most items
    have none, and parsing every absent one cost a tenth of the ingest."""
    return f"CASE WHEN {raw} IS NOT NULL THEN ml_quantity({raw}) END"


def _details_bad(input_tokens: str, output_tokens: str) -> str:
    """True when a token detail is present but not a usable count (as `ml_bad_quantity` says,
    from the value already parsed) or when the details exceed their whole (SPEC 2.2, 2.3): cache
    reads and writes are parts of the input, reasoning of the output."""
    bad = " OR ".join(
        f"(ml_present({name}_raw) AND {name}_tokens IS NULL)"
        for name in ("cache_read", "cache_write", "reasoning")
    )
    return (
        f"({bad}"
        f" OR coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) > {input_tokens}"
        f" OR coalesce(reasoning_tokens, 0) > {output_tokens})"
    )


def _provider(expr: str) -> str:
    """Who served a request, compared case-insensitively with the catalog (blank = unknown)."""
    return f"CASE WHEN trim({expr}) <> '' THEN lower(trim({expr})) END"


def _otlp_id(expr: str, hex_chars: int) -> str:
    """An OTLP id as lower-case hex (SPEC 2.3): hex of the id's length as is, or the base64 the
    protobuf JSON mapping writes for bytes (standard or URL-safe alphabet) decoded; NULL for
    anything else. 16 bytes (traceId) are 24 base64 characters, 8 bytes (spanId) 12. Decoding
    with TRY checks the digits without a regular expression per id, which cost a tenth of the
    whole span parse."""
    nbytes = hex_chars // 2
    b64_chars = 4 * ((nbytes + 2) // 3)
    decoded = f"TRY(from_base64(translate({expr}, '-_', '+/')))"
    return (
        f"CASE WHEN length({expr}) = {hex_chars} AND TRY(unhex({expr})) IS NOT NULL"
        f" THEN lower({expr})"
        f" WHEN length({expr}) = {b64_chars} AND octet_length({decoded}) = {nbytes}"
        f" THEN lower(hex({decoded})) END"
    )


def _span_attr(name: str) -> str:
    """A span attribute's value as JSON (the first entry with that key), from `attrs` and its
    keys `attr_keys`: `list_position` finds the key without a lambda per lookup, which matters
    with the sixteen attributes a span is read for."""
    return f"ml_otlp_json(list_extract(attrs, list_position(attr_keys, '{name}')).value)"


def _span_string(name: str) -> str:
    return f"({_span_attr(name)} ->> '$')"


def _otlp_token(name: str, legacy: str | None = None) -> str:
    """A token attribute as JSON; an older name stands in only when the current one is absent."""
    if legacy is None:
        return _span_attr(name)
    return f"coalesce({_span_attr(name)}, {_span_attr(legacy)})"


# gen_ai.provider.name, else the older gen_ai.system (SPEC 2.3)
_SPAN_PROVIDER = _provider(
    f"coalesce({_span_string('gen_ai.provider.name')}, {_span_string('gen_ai.system')})"
)


EVENTS = f"""
WITH {_OBJECT_LINES},
fields AS (
    SELECT line_number, raw, is_object,
           CASE WHEN is_object THEN json_transform(raw, '{{"id": "JSON", "business_id": "VARCHAR",
               "event_type": "VARCHAR", "quantity": "JSON", "total_cost_cents": "JSON",
               "created_at": "JSON", {EXACT_NUMBERS}}}') END AS f
    FROM parsed
),
typed AS (
    SELECT line_number, raw, is_object,
           CASE WHEN ml_present(f.id) AND f.id ->> '$' <> '' THEN f.id ->> '$' END AS item_key,
           ml_tenant(f.business_id) AS tenant_id,
           lower(trim(f.event_type)) AS meter,
           ml_quantity(f.quantity) AS quantity,
           ml_timestamp(f.created_at) AS event_time,
           CAST(ml_quantity(f.total_cost_cents) * 0.01 AS DECIMAL(38, 12)) AS source_cost_usd,
           ml_bad_quantity(f.total_cost_cents) AS bad_cost
    FROM fields
)
SELECT line_number, 0::BIGINT AS item_position,
       CASE WHEN NOT is_object THEN 'malformed_json'
            WHEN tenant_id IS NULL THEN 'missing_tenant'
            WHEN event_time IS NULL THEN 'bad_timestamp'
            WHEN event_time >= {_FUTURE} THEN 'future_timestamp'
            WHEN meter IS NULL OR meter NOT IN ({_EVENT_METERS}) THEN 'unknown_meter'
            WHEN quantity IS NULL OR bad_cost THEN 'bad_quantity'
       END AS reason,
       raw AS item_json,
       item_key, tenant_id, meter, quantity, event_time, source_cost_usd
FROM typed
"""

USAGE_LOGS = f"""
WITH {_OBJECT_LINES},
fields AS (
    SELECT line_number, raw, is_object,
           CASE WHEN is_object THEN json_transform(raw, '{{"requestId": "JSON", "tenantId": "VARCHAR",
               "userId": "VARCHAR", "assistant": "VARCHAR", "model": "VARCHAR",
               "tokensIn": "JSON", "tokensOut": "JSON", "totalTokens": "JSON", "costCents": "JSON",
               "toolInvocations": "JSON", "createdAt": "JSON", "cacheReadTokens": "JSON",
               "cacheWriteTokens": "JSON", "reasoningTokens": "JSON", "provider": "VARCHAR",
               {EXACT_NUMBERS}}}') END AS f
    FROM parsed
),
checked_tools AS (
    SELECT *,
           CASE WHEN NOT ml_present(f.toolInvocations) THEN []
                WHEN json_type(f.toolInvocations) = 'OBJECT'
                    THEN list_transform(
                        map_values(json_transform(f.toolInvocations, '"MAP(VARCHAR, JSON)"')),
                        lambda v: ml_quantity(v))
           END AS tool_checks,
           CASE WHEN json_type(f.toolInvocations) = 'OBJECT'
                    THEN map_values(json_transform(f.toolInvocations,
                                                   '"MAP(VARCHAR, DECIMAL(38, 12))"'))
           END AS tool_counts
    FROM fields
),
tools AS (
    -- summed only when every count is a quantity (at most 10^15 each), so the sum cannot overflow
    SELECT * EXCLUDE (tool_counts),
           CASE WHEN list_count(tool_checks) = len(tool_checks)
                THEN coalesce(list_sum(tool_counts), 0) END AS tool_sum
    FROM checked_tools
),
typed AS (
    SELECT line_number, raw, is_object,
           CASE WHEN ml_present(f.requestId) AND f.requestId ->> '$' <> ''
                THEN f.requestId ->> '$' END AS item_key,
           ml_tenant(f.tenantId) AS tenant_id,
           f.userId AS user_id, f.assistant AS assistant, f.model AS model,
           coalesce(ml_quantity(f.tokensIn), 0) AS input_tokens,
           coalesce(ml_quantity(f.tokensOut), 0) AS output_tokens,
           {_optional_quantity("f.cacheReadTokens")} AS cache_read_tokens,
           {_optional_quantity("f.cacheWriteTokens")} AS cache_write_tokens,
           {_optional_quantity("f.reasoningTokens")} AS reasoning_tokens,
           f.cacheReadTokens AS cache_read_raw, f.cacheWriteTokens AS cache_write_raw,
           f.reasoningTokens AS reasoning_raw,
           {_provider("f.provider")} AS provider,
           CAST(coalesce(tool_sum, 0) AS DECIMAL(38, 12)) AS tool_calls,
           CAST(ml_quantity(f.costCents) * 0.01 AS DECIMAL(38, 12)) AS source_cost_usd,
           ml_timestamp(f.createdAt) AS event_time,
           ml_bad_quantity(f.tokensIn) OR ml_bad_quantity(f.tokensOut)
               OR ml_bad_quantity(f.totalTokens) OR ml_bad_quantity(f.costCents)
               OR tool_sum IS NULL OR tool_sum > 1000000000000000 AS has_bad_quantity
    FROM tools
)
SELECT line_number, 0::BIGINT AS item_position,
       CASE WHEN NOT is_object THEN 'malformed_json'
            WHEN tenant_id IS NULL THEN 'missing_tenant'
            WHEN event_time IS NULL THEN 'bad_timestamp'
            WHEN event_time >= {_FUTURE} THEN 'future_timestamp'
            WHEN has_bad_quantity OR {_details_bad("input_tokens", "output_tokens")}
                THEN 'bad_quantity'
       END AS reason,
       raw AS item_json,
       item_key, tenant_id, user_id, assistant, model, input_tokens, output_tokens, tool_calls,
       source_cost_usd, event_time, cache_read_tokens, cache_write_tokens, reasoning_tokens, provider
FROM typed
"""

TRACES = f"""
WITH {_OBJECT_LINES},
exports AS (
    SELECT line_number, raw, is_object,
           CASE WHEN is_object THEN json_transform(raw, '{{"resourceSpans": [{{
               "resource": {{"attributes": [{{"key": "VARCHAR", "value": {OTLP_VALUE}}}]}},
               "scopeSpans": [{{"spans": ["JSON"]}}]}}], {EXACT_NUMBERS}}}') END AS export
    FROM parsed
),
shaped AS (
    SELECT line_number, raw,
           CASE WHEN is_object THEN coalesce(json_type(raw, '$.resourceSpans') = 'ARRAY'
                    AND export.resourceSpans IS NOT NULL, false) ELSE false END AS is_export,
           export
    FROM exports
),
resource_spans AS (
    SELECT line_number, rs_pos, rs.resource.attributes AS resource_attrs, rs.scopeSpans AS scope_spans
    FROM shaped, unnest(export.resourceSpans) WITH ORDINALITY AS u(rs, rs_pos)
    WHERE is_export
),
scope_spans AS (
    SELECT line_number, rs_pos, ss_pos, resource_attrs, ss.spans AS spans
    FROM resource_spans, unnest(scope_spans) WITH ORDINALITY AS u(ss, ss_pos)
),
spans AS (
    SELECT line_number, rs_pos, ss_pos, sp_pos, resource_attrs, span
    FROM scope_spans, unnest(spans) WITH ORDINALITY AS u(span, sp_pos)
),
positioned AS (
    SELECT *, row_number() OVER (PARTITION BY line_number ORDER BY rs_pos, ss_pos, sp_pos)
               - 1 AS item_position,
           json_type(span) = 'OBJECT' AS span_is_object
    FROM spans
),
fields AS (
    SELECT line_number, item_position, span, resource_attrs, span_is_object,
           CASE WHEN span_is_object THEN json_transform(span, '{{"traceId": "VARCHAR",
               "spanId": "VARCHAR", "parentSpanId": "VARCHAR", "name": "VARCHAR",
               "startTimeUnixNano": "JSON", "endTimeUnixNano": "JSON", "status": {{"code": "JSON"}},
               "flags": "JSON", "attributes": [{{"key": "VARCHAR", "value": {OTLP_VALUE}}}],
               {EXACT_NUMBERS}}}') END AS f
    FROM positioned
),
keyed AS (
    SELECT *, f.attributes AS attrs, list_transform(f.attributes, lambda a: a.key) AS attr_keys
    FROM fields
),
typed AS (
    SELECT line_number, item_position, span, span_is_object,
           {_otlp_id("f.traceId", 32)} AS trace_id, {_otlp_id("f.spanId", 16)} AS span_id,
           {_otlp_id("f.parentSpanId", 16)} AS parent_span_id,
           f.traceId AS raw_trace_id, f.spanId AS raw_span_id, f.parentSpanId AS raw_parent_span_id,
           coalesce(f.parentSpanId, '') <> '' AS has_parent,
           -- bits 0x100 (parent's remote flag known) and 0x200 (parent is remote)
           coalesce(TRY_CAST(f.flags ->> '$' AS BIGINT) & 768 = 768, false) AS parent_is_remote,
           f.name AS span_name,
           ml_unix_nano(f.startTimeUnixNano) AS start_time,
           ml_unix_nano(f.endTimeUnixNano) AS end_time,
           ml_present(f.endTimeUnixNano) AND ml_unix_nano(f.endTimeUnixNano) IS NULL AS bad_end,
           CASE upper(trim(f.status.code ->> '$'))
               WHEN '1' THEN 1 WHEN 'STATUS_CODE_OK' THEN 1
               WHEN '2' THEN 2 WHEN 'STATUS_CODE_ERROR' THEN 2
               ELSE 0 END AS status_code,
           ml_tenant(coalesce(ml_tenant({_span_string("tenant.id")}),
                              ml_otlp_string(resource_attrs, 'tenant.id'))) AS tenant_id,
           {_span_string("agent.id")} AS agent_id,
           {_span_string("team.id")} AS team_id,
           {_span_string("user.id")} AS user_id,
           {_span_string("gen_ai.operation.name")} AS operation,
           {_span_string("gen_ai.request.model")} AS model,
           {_SPAN_PROVIDER} AS provider,
           {_otlp_token("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")}
               AS input_raw,
           {_otlp_token("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")}
               AS output_raw,
           {_otlp_token("gen_ai.usage.cache_read.input_tokens")} AS cache_read_raw,
           {_otlp_token("gen_ai.usage.cache_creation.input_tokens")}
               AS cache_write_raw,
           {_otlp_token("gen_ai.usage.reasoning.output_tokens")} AS reasoning_raw,
           {_span_attr("gen_ai.usage.cost")} AS cost_raw
    FROM keyed
),
quantities AS (
    SELECT *,
           ml_quantity(input_raw) AS input_tokens, ml_quantity(output_raw) AS output_tokens,
           {_optional_quantity("cache_read_raw")} AS cache_read_tokens,
           {_optional_quantity("cache_write_raw")} AS cache_write_tokens,
           {_optional_quantity("reasoning_raw")} AS reasoning_tokens
    FROM typed
),
judged AS (
SELECT *,
       CASE WHEN NOT span_is_object OR trace_id IS NULL OR span_id IS NULL
                 OR (has_parent AND parent_span_id IS NULL)
                THEN 'malformed_json'
            WHEN tenant_id IS NULL THEN 'missing_tenant'
            WHEN start_time IS NULL OR bad_end OR end_time < start_time THEN 'bad_timestamp'
            WHEN start_time >= {_FUTURE} THEN 'future_timestamp'
            WHEN ml_bad_quantity(input_raw) OR ml_bad_quantity(output_raw)
                 OR ml_bad_quantity(cost_raw)
                 OR {_details_bad("coalesce(input_tokens, 0)", "coalesce(output_tokens, 0)")}
                THEN 'bad_quantity'
       END AS reason
FROM quantities
)
SELECT line_number, item_position, reason,
       -- a usable span whose ids were not written as lower-case hex is compared (duplicate or
       -- conflict) with its ids in that form, so a re-delivery in the other form is a duplicate
       -- a JSON null span is an item too: its raw text is `null`, never empty
       coalesce(CAST(CASE WHEN reason IS NULL AND (raw_trace_id <> trace_id
                                                   OR raw_span_id <> span_id
                                                   OR raw_parent_span_id
                                                      <> coalesce(parent_span_id, ''))
                          THEN json_merge_patch(span, json_object(
                              'traceId', trace_id, 'spanId', span_id, 'parentSpanId',
                              coalesce(parent_span_id, raw_parent_span_id)))
                          ELSE span END AS VARCHAR), 'null') AS item_json,
       trace_id || '/' || span_id AS item_key,
       trace_id, span_id, parent_span_id, span_name, start_time, end_time, status_code,
       tenant_id, agent_id, team_id, user_id, operation, model,
       input_tokens, output_tokens,
       ml_quantity(cost_raw) AS source_cost_usd,
       cache_read_tokens, cache_write_tokens, reasoning_tokens, provider, parent_is_remote
FROM judged
UNION ALL
SELECT line_number, 0::BIGINT, 'malformed_json', raw, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM shaped WHERE NOT is_export
"""

SESSIONS = f"""
WITH {_OBJECT_LINES},
docs AS (
    SELECT line_number, raw,
           CASE WHEN is_object THEN coalesce(json_type(raw, '$.steps') = 'ARRAY', false)
                ELSE false END AS is_session,
           CASE WHEN is_object THEN json_transform(raw, '{{"sessionId": "VARCHAR",
               "tenantId": "VARCHAR", "userId": "VARCHAR", "status": "VARCHAR",
               "createdAt": "JSON", "steps": ["JSON"], {EXACT_NUMBERS}}}') END AS d
    FROM parsed
),
steps AS (
    SELECT line_number, d, step, step_pos - 1 AS item_position,
           json_type(step) = 'OBJECT' AS step_is_object
    FROM docs, unnest(d.steps) WITH ORDINALITY AS u(step, step_pos)
    WHERE is_session
),
fields AS (
    SELECT *, CASE WHEN step_is_object THEN json_transform(step, '{{"operationId": "VARCHAR",
               "usageType": "VARCHAR", "feature": "VARCHAR", "provider": "VARCHAR",
               "cost": "JSON", "timestamp": "JSON", {EXACT_NUMBERS}}}') END AS s
    FROM steps
),
typed AS (
    SELECT line_number, item_position, step, step_is_object,
           s.operationId AS item_key,
           d.sessionId AS session_id, ml_tenant(d.tenantId) AS tenant_id, d.userId AS user_id,
           d.status AS session_status, s.feature AS feature, s.provider AS provider,
           s.usageType AS usage_type,
           CASE lower(trim(s.usageType)) WHEN 'apiusage' THEN 'api_call'
                                         WHEN 'aiusage' THEN 'ai_query' END AS meter,
           CASE WHEN ml_present(s.timestamp) THEN ml_timestamp(s.timestamp)
                ELSE ml_timestamp(d.createdAt) END AS event_time,
           ml_quantity(s.cost) AS source_cost_usd,
           ml_bad_quantity(s.cost) AS bad_cost
    FROM fields
)
SELECT line_number, item_position,
       CASE WHEN NOT step_is_object OR coalesce(item_key, '') = '' THEN 'malformed_json'
            WHEN tenant_id IS NULL THEN 'missing_tenant'
            WHEN event_time IS NULL THEN 'bad_timestamp'
            WHEN event_time >= {_FUTURE} THEN 'future_timestamp'
            WHEN meter IS NULL THEN 'unknown_meter'
            WHEN bad_cost THEN 'bad_quantity'
       END AS reason,
       -- a JSON null step is an item too: its raw text is `null`, never empty
       coalesce(CAST(step AS VARCHAR), 'null') AS item_json, item_key, session_id, tenant_id, user_id, session_status,
       feature, provider, usage_type, meter, 1::DECIMAL(38, 12) AS quantity, event_time,
       source_cost_usd
FROM typed
UNION ALL
SELECT line_number, 0::BIGINT, 'malformed_json', raw, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL
FROM docs WHERE NOT is_session
"""

ITEM_QUERIES = {"events": EVENTS, "usage_logs": USAGE_LOGS, "traces": TRACES, "sessions": SESSIONS}
# Sources whose lines without a key field are keyed by the SHA-256 of their canonical JSON.
CONTENT_KEYED_SOURCES = ("events", "usage_logs")
