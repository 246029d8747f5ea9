"""Items of each source: keys, typed fields and quarantine reasons with SPEC 2.5 precedence."""

import json
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from orchestration.defs.ingest.bronze import canonical_json, content_key, key_by_content, type_items
from orchestration.defs.ingest.sql_macros import connect_for_ingest

DELIVERY = date(2026, 10, 3)


def items(source: str, lines: list, delivery: date = DELIVERY) -> list[dict]:
    con = connect_for_ingest()
    raws = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    table = pa.table(
        {
            "line_number": pa.array(range(1, len(raws) + 1), pa.int64()),
            "raw": pa.array(raws),
            "utf8_ok": pa.array([True] * len(raws)),
        }
    )
    type_items(con, source, table, delivery)
    key_by_content(con, source)
    rel = con.sql("SELECT * FROM items ORDER BY line_number, item_position")
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def event(**overrides):
    base = {
        "id": "e1",
        "business_id": "acme",
        "event_type": "api_call",
        "quantity": 1,
        "created_at": "2026-10-03T12:00:00Z",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "e1", "business_id": "acme"', "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('"just a string"', "malformed_json"),
        (event(business_id=...), "missing_tenant"),
        (event(business_id=None), "missing_tenant"),
        (event(business_id=""), "missing_tenant"),
        (event(created_at="not a time"), "bad_timestamp"),
        (event(created_at=...), "bad_timestamp"),
        # 00:00Z two days after the delivery date is already the future ...
        (event(created_at="2026-10-05T00:00:00Z"), "future_timestamp"),
        (event(event_type="api_calls"), "unknown_meter"),
        (event(event_type=...), "unknown_meter"),
        (event(quantity=-1), "bad_quantity"),
        (event(quantity="NaN"), "bad_quantity"),
        (event(quantity="lots"), "bad_quantity"),
        (event(quantity=...), "bad_quantity"),
        # precedence: the first reason in SPEC order wins
        (event(business_id="", created_at="bad", event_type="nope", quantity=-1), "missing_tenant"),
        (event(created_at="bad", event_type="nope", quantity=-1), "bad_timestamp"),
        (event(created_at="2027-01-01T00:00:00Z", event_type="nope"), "future_timestamp"),
        (event(event_type="nope", quantity=-1), "unknown_meter"),
    ],
)
def test_event_quarantine_reasons(line, reason):
    (item,) = items("events", [line])
    assert item["reason"] == reason


def test_event_just_before_the_future_bound_is_accepted():
    (item,) = items("events", [event(created_at="2026-10-04T23:59:59.999Z")])
    assert item["reason"] is None


def test_event_meter_is_case_and_space_insensitive_and_quantity_exact():
    (item,) = items("events", [event(event_type="  VOICE_Minute ", quantity="2.75")])
    assert item["reason"] is None
    assert item["meter"] == "voice_minute"
    assert item["quantity"] == Decimal("2.75")


def test_keyless_lines_are_keyed_by_canonical_json_hash():
    a = '{"business_id": "acme", "event_type": "api_call", "quantity": 1, "created_at": "2026-10-03T12:00:00Z"}'
    b = '{"quantity":1,"created_at":"2026-10-03T12:00:00Z","event_type":"api_call","business_id":"acme"}'
    first, second = items("events", [a, b])
    assert first["item_key"] == second["item_key"] == content_key(a)
    assert canonical_json(b) == (
        '{"business_id":"acme","created_at":"2026-10-03T12:00:00Z","event_type":"api_call",'
        '"quantity":1}'
    )


def usage_log(**overrides):
    base = {
        "requestId": "r1",
        "tenantId": "acme",
        "model": "claude-sonnet-4-5",
        "tokensIn": 10,
        "tokensOut": 5,
        "toolInvocations": {"a": 1, "b": "2"},
        "costCents": 0.5,
        "createdAt": {"_seconds": 1791029000, "_nanoseconds": 0},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_usage_log_fields():
    (item,) = items("usage_logs", [usage_log()])
    assert item["reason"] is None
    assert (item["input_tokens"], item["output_tokens"], item["tool_calls"]) == (10, 5, 3)
    assert item["source_cost_usd"] == Decimal("0.005")  # 0.5 cents = 0.005 USD


@pytest.mark.parametrize(
    "overrides",
    [
        {"tokensIn": -3},
        {"tokensOut": "many"},
        {"totalTokens": "NaN"},
        {"toolInvocations": {"webSearch": -1}},
        {"toolInvocations": [1, 2]},
        {"costCents": "free"},
    ],
)
def test_usage_log_bad_quantity_in_any_token_or_count_field(overrides):
    (item,) = items("usage_logs", [usage_log(**overrides)])
    assert item["reason"] == "bad_quantity"


def test_usage_log_missing_tenant_beats_bad_quantity():
    (item,) = items("usage_logs", [usage_log(tenantId=None, tokensIn=-1)])
    assert item["reason"] == "missing_tenant"


TRACE_ID = "5b8efff798038103d269b633813fc60c"


def span_id(name: str) -> str:
    """A valid 8-byte OTLP span id (16 hex digits) that still reads as `name`."""
    return name.encode().hex().rjust(16, "0")


def span(name, parent="", tenant="acme", attrs=None):
    attributes = [{"key": k, "value": v} for k, v in (attrs or {}).items()]
    if tenant is not None:
        attributes.append({"key": "tenant.id", "value": {"stringValue": tenant}})
    return {
        "traceId": TRACE_ID,
        "spanId": span_id(name),
        "parentSpanId": span_id(parent) if parent else parent,
        "name": "x",
        "startTimeUnixNano": "1791028800000000000",
        "endTimeUnixNano": 1791028801000000000,
        "attributes": attributes,
        "status": {"code": 1},
    }


def export(*spans, resource_tenant=None):
    resource = {"attributes": []}
    if resource_tenant:
        resource["attributes"].append(
            {"key": "tenant.id", "value": {"stringValue": resource_tenant}}
        )
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}


def test_spans_are_items_with_positions_and_otlp_values_of_every_type():
    line = export(
        span("s1"),
        span(
            "s2",
            parent="s1",
            attrs={
                "gen_ai.usage.input_tokens": {"intValue": "812"},
                "gen_ai.usage.output_tokens": {"doubleValue": 164.0},
                "gen_ai.usage.cost": {"stringValue": "0.0012"},
            },
        ),
    )
    root, child = items("traces", [line])
    assert (root["item_position"], child["item_position"]) == (0, 1)
    assert root["parent_span_id"] is None  # empty string = root
    assert root["input_tokens"] is None  # no token attribute, no token record
    assert (child["input_tokens"], child["output_tokens"]) == (812, 164)
    assert child["source_cost_usd"] == Decimal("0.0012")
    assert child["item_key"] == f"{TRACE_ID}/{span_id('s2')}"


def test_span_tenant_falls_back_to_resource_attribute():
    (item,) = items("traces", [export(span("s1", tenant=None), resource_tenant="globex")])
    assert item["tenant_id"] == "globex"


def test_span_without_any_tenant_and_bad_tokens():
    no_tenant, bad_tokens = items(
        "traces",
        [
            export(span("s1", tenant=None)),
            export(span("s2", attrs={"gen_ai.usage.input_tokens": {"intValue": "-5"}})),
        ],
    )
    assert no_tenant["reason"] == "missing_tenant"
    assert bad_tokens["reason"] == "bad_quantity"


def test_unusable_trace_line_is_one_malformed_item():
    (item,) = items("traces", ['{"resourceSpans": 5}'])
    assert item["reason"] == "malformed_json"
    assert item["item_json"] == '{"resourceSpans": 5}'


def test_session_steps_meters_timestamps_and_reasons():
    doc = {
        "sessionId": "s",
        "tenantId": "acme",
        "createdAt": "2026-10-03T10:00:00Z",
        "steps": [
            {
                "operationId": "o1",
                "usageType": "ApiUsage",
                "cost": 0.1,
                "timestamp": "2026-10-03T10:00:05Z",
            },
            {
                "operationId": "o2",
                "usageType": " APIUSAGE ",
                "cost": "0.2",
            },  # no timestamp: createdAt
            {"operationId": "o3", "usageType": "aiusage", "timestamp": "garbage"},
            {"operationId": "o4", "usageType": "StorageUsage", "timestamp": "2026-10-03T10:00:05Z"},
            {"usageType": "ApiUsage"},
        ],
    }
    o1, o2, o3, o4, keyless = items("sessions", [doc])
    assert (o1["meter"], o1["reason"], o1["quantity"]) == ("api_call", None, 1)
    assert o2["meter"] == "api_call" and o2["event_time"].isoformat() == "2026-10-03T10:00:00+00:00"
    assert o3["reason"] == "bad_timestamp"
    assert o4["reason"] == "unknown_meter"
    assert keyless["reason"] == "malformed_json"
