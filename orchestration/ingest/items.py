"""Per-source SQL that turns the numbered lines of one raw file into typed items (SPEC 2.1-2.5).

Each query reads the relation `lines(line_number, raw, utf8_ok)` and the parameters `$delivery_date` (DATE)
and returns one row per item: where it came from (line_number, item_position), the quarantine
`reason` (NULL when usable; the first that applies in SPEC 2.5 order), `item_json` (the item's own
JSON, or the whole line when the line is unusable), `item_key` (the dedup key, NULL for events /
usage_logs lines that have no key field: those are keyed by content hash afterwards) and the typed
fields of the source.
"""

from __future__ import annotations

from orchestration.ingest.sql_macros import EXACT_NUMBERS, OTLP_VALUE

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
            WHEN meter IS NULL OR meter NOT IN ('api_call', 'voice_minute', 'ai_query', 'storage_mb')
                THEN 'unknown_meter'
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
               "toolInvocations": "JSON", "createdAt": "JSON", {EXACT_NUMBERS}}}') END AS f
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
            WHEN has_bad_quantity THEN 'bad_quantity'
       END AS reason,
       raw AS item_json,
       item_key, tenant_id, user_id, assistant, model, input_tokens, output_tokens, tool_calls,
       source_cost_usd, event_time
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
               "attributes": [{{"key": "VARCHAR", "value": {OTLP_VALUE}}}], {EXACT_NUMBERS}}}') END AS f
    FROM positioned
),
typed AS (
    SELECT line_number, item_position, span, span_is_object,
           f.traceId AS trace_id, f.spanId AS span_id,
           CASE WHEN f.parentSpanId <> '' THEN f.parentSpanId END AS parent_span_id,
           f.name AS span_name,
           ml_unix_nano(f.startTimeUnixNano) AS start_time,
           ml_unix_nano(f.endTimeUnixNano) AS end_time,
           ml_present(f.endTimeUnixNano) AND ml_unix_nano(f.endTimeUnixNano) IS NULL AS bad_end,
           CASE upper(trim(f.status.code ->> '$'))
               WHEN '1' THEN 1 WHEN 'STATUS_CODE_OK' THEN 1
               WHEN '2' THEN 2 WHEN 'STATUS_CODE_ERROR' THEN 2
               ELSE 0 END AS status_code,
           ml_tenant(coalesce(ml_tenant(ml_otlp_string(f.attributes, 'tenant.id')),
                              ml_otlp_string(resource_attrs, 'tenant.id'))) AS tenant_id,
           ml_otlp_string(f.attributes, 'agent.id') AS agent_id,
           ml_otlp_string(f.attributes, 'team.id') AS team_id,
           ml_otlp_string(f.attributes, 'user.id') AS user_id,
           ml_otlp_string(f.attributes, 'gen_ai.operation.name') AS operation,
           ml_otlp_string(f.attributes, 'gen_ai.request.model') AS model,
           ml_otlp_json(ml_otlp_value(f.attributes, 'gen_ai.usage.input_tokens')) AS input_raw,
           ml_otlp_json(ml_otlp_value(f.attributes, 'gen_ai.usage.output_tokens')) AS output_raw,
           ml_otlp_json(ml_otlp_value(f.attributes, 'gen_ai.usage.cost')) AS cost_raw
    FROM fields
)
SELECT line_number, item_position,
       CASE WHEN NOT span_is_object OR coalesce(trace_id, '') = '' OR coalesce(span_id, '') = ''
                THEN 'malformed_json'
            WHEN tenant_id IS NULL THEN 'missing_tenant'
            WHEN start_time IS NULL OR bad_end OR end_time < start_time THEN 'bad_timestamp'
            WHEN start_time >= {_FUTURE} THEN 'future_timestamp'
            WHEN ml_bad_quantity(input_raw) OR ml_bad_quantity(output_raw)
                 OR ml_bad_quantity(cost_raw) THEN 'bad_quantity'
       END AS reason,
       CAST(span AS VARCHAR) AS item_json,
       trace_id || '/' || span_id AS item_key,
       trace_id, span_id, parent_span_id, span_name, start_time, end_time, status_code,
       tenant_id, agent_id, team_id, user_id, operation, model,
       ml_quantity(input_raw) AS input_tokens, ml_quantity(output_raw) AS output_tokens,
       ml_quantity(cost_raw) AS source_cost_usd
FROM typed
UNION ALL
SELECT line_number, 0::BIGINT, 'malformed_json', raw, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
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
       CAST(step AS VARCHAR) AS item_json, item_key, session_id, tenant_id, user_id, session_status,
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
