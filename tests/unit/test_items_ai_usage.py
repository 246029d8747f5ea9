"""Token details, provider, legacy OTel names and OTLP id forms at ingestion (SPEC 2.2, 2.3)."""

import base64
import json
from decimal import Decimal

import pytest
from test_items import export, items, usage_log

TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"
PARENT_HEX = "eee19b7ec3c1b175"


def b64(hex_id: str) -> str:
    """The id as the protobuf JSON mapping writes bytes."""
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def otlp_span(trace_id=TRACE_HEX, span_id=SPAN_HEX, parent=None, attrs=None, **fields):
    attributes = [{"key": "tenant.id", "value": {"stringValue": "acme"}}]
    for key, value in (attrs or {}).items():
        kind = "stringValue" if isinstance(value, str) else "intValue"
        attributes.append(
            {"key": key, "value": {kind: value if kind == "stringValue" else str(value)}}
        )
    doc = {"traceId": trace_id, "spanId": span_id}
    if parent is not None:
        doc["parentSpanId"] = parent
    doc |= {
        "name": "chat",
        "startTimeUnixNano": "1791028800000000000",
        "endTimeUnixNano": "1791028801000000000",
        "attributes": attributes,
    }
    return doc | fields


def one_span(**kwargs) -> dict:
    (item,) = items("traces", [export(otlp_span(**kwargs))])
    return item


# ---- usage_logs


def test_usage_log_token_details_and_provider():
    (item,) = items(
        "usage_logs",
        [
            usage_log(
                tokensIn=1000,
                tokensOut=300,
                cacheReadTokens="600",
                cacheWriteTokens=400,
                reasoningTokens=300,
                provider=" AWS.Bedrock ",
            )
        ],
    )
    assert item["reason"] is None
    # cache read + write = 1000 = tokensIn and reasoning = tokensOut: the bounds themselves are fine
    assert (item["cache_read_tokens"], item["cache_write_tokens"], item["reasoning_tokens"]) == (
        600,
        400,
        300,
    )
    assert item["provider"] == "aws.bedrock"  # compared case-insensitively with the catalog


def test_usage_log_without_token_details_has_none():
    (item,) = items("usage_logs", [usage_log()])
    assert (item["cache_read_tokens"], item["cache_write_tokens"], item["reasoning_tokens"]) == (
        None,
        None,
        None,
    )
    assert item["provider"] is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"tokensIn": 10, "cacheReadTokens": 6, "cacheWriteTokens": 5},  # 6 + 5 > 10
        {"tokensIn": 10, "cacheReadTokens": 11},
        {"tokensOut": 5, "reasoningTokens": 6},
        {"tokensIn": ..., "cacheWriteTokens": 1},  # a missing tokensIn is 0
        {"cacheReadTokens": -1},
        {"cacheWriteTokens": "lots"},
        {"reasoningTokens": "NaN"},
    ],
)
def test_usage_log_token_detail_contradictions_and_bad_values(overrides):
    (item,) = items("usage_logs", [usage_log(**overrides)])
    assert item["reason"] == "bad_quantity"


# ---- traces: token details and legacy names


def test_span_token_details_and_provider_name_wins_over_system():
    item = one_span(
        attrs={
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.reasoning.output_tokens": 50,
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.system": "anthropic",
        }
    )
    assert item["reason"] is None
    assert (item["input_tokens"], item["output_tokens"]) == (1000, 300)
    assert (item["cache_read_tokens"], item["cache_write_tokens"], item["reasoning_tokens"]) == (
        200,
        100,
        50,
    )
    assert item["provider"] == "aws.bedrock"


def test_span_provider_falls_back_to_gen_ai_system():
    assert one_span(attrs={"gen_ai.system": "OpenAI"})["provider"] == "openai"


def test_legacy_token_names_stand_in_only_when_the_current_ones_are_absent():
    legacy = one_span(
        attrs={"gen_ai.usage.prompt_tokens": 400, "gen_ai.usage.completion_tokens": 40}
    )
    assert (legacy["input_tokens"], legacy["output_tokens"]) == (400, 40)
    both = one_span(
        attrs={
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.prompt_tokens": 999,
            "gen_ai.usage.completion_tokens": 888,
            "gen_ai.usage.output_tokens": 10,
        }
    )
    assert (both["input_tokens"], both["output_tokens"]) == (100, 10)  # current names win
    mixed = one_span(attrs={"gen_ai.usage.input_tokens": 7, "gen_ai.usage.completion_tokens": 3})
    assert (mixed["input_tokens"], mixed["output_tokens"]) == (7, 3)


@pytest.mark.parametrize(
    "attrs",
    [
        {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read.input_tokens": 11},
        {
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.cache_read.input_tokens": 6,
            "gen_ai.usage.cache_creation.input_tokens": 5,
        },
        {"gen_ai.usage.output_tokens": 5, "gen_ai.usage.reasoning.output_tokens": 6},
        # legacy input of 10 is the whole the cache read is checked against
        {"gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.cache_read.input_tokens": 11},
        {"gen_ai.usage.reasoning.output_tokens": 1},  # no output at all
        {"gen_ai.usage.cache_creation.input_tokens": -1},
        {"gen_ai.usage.prompt_tokens": -1},
    ],
)
def test_span_token_detail_contradictions_and_bad_values(attrs):
    assert one_span(attrs=attrs)["reason"] == "bad_quantity"


# ---- traces: ids


def test_hex_ids_are_stored_lower_case():
    item = one_span(trace_id=TRACE_HEX.upper(), span_id=SPAN_HEX.upper(), parent=PARENT_HEX)
    assert (item["trace_id"], item["span_id"], item["parent_span_id"]) == (
        TRACE_HEX,
        SPAN_HEX,
        PARENT_HEX,
    )
    assert item["item_key"] == f"{TRACE_HEX}/{SPAN_HEX}"


def test_base64_ids_are_decoded_to_hex():
    assert len(b64(TRACE_HEX)) == 24 and len(b64(SPAN_HEX)) == 12
    item = one_span(trace_id=b64(TRACE_HEX), span_id=b64(SPAN_HEX), parent=b64(PARENT_HEX))
    assert item["reason"] is None
    assert (item["trace_id"], item["span_id"], item["parent_span_id"]) == (
        TRACE_HEX,
        SPAN_HEX,
        PARENT_HEX,
    )


def test_a_base64_copy_compares_equal_to_its_hex_form():
    hex_form, b64_form = items(
        "traces",
        [
            export(otlp_span(parent="")),
            export(otlp_span(trace_id=b64(TRACE_HEX), span_id=b64(SPAN_HEX), parent="")),
        ],
    )
    # the dedup comparison is key-order-insensitive, so equal parsed JSON is enough
    assert json.loads(hex_form["item_json"]) == json.loads(b64_form["item_json"])


@pytest.mark.parametrize(
    "ids",
    [
        {"trace_id": "t1"},  # neither hex nor base64
        {"trace_id": TRACE_HEX[:30]},  # hex of the wrong length
        {"span_id": SPAN_HEX + "00"},
        {"trace_id": "zz" + TRACE_HEX[2:]},
        {"trace_id": b64(SPAN_HEX)},  # base64 of 8 bytes is no traceId
        {"parent": "not-an-id"},
        {"trace_id": ""},
    ],
)
def test_any_other_id_is_malformed(ids):
    item = one_span(**ids)
    assert item["reason"] == "malformed_json"
    # the quarantine keeps the span as it was sent
    assert '"traceId"' in item["item_json"]


def test_remote_parent_flags():
    remote = one_span(parent=PARENT_HEX, flags=768)  # 0x100 | 0x200
    local = one_span(parent=PARENT_HEX, flags=256)  # remote-ness known: not remote
    unknown = one_span(parent=PARENT_HEX)
    assert (remote["parent_is_remote"], local["parent_is_remote"], unknown["parent_is_remote"]) == (
        True,
        False,
        False,
    )


def test_cost_attribute_still_read_with_details():
    item = one_span(attrs={"gen_ai.usage.cost": "0.5", "gen_ai.usage.input_tokens": 3})
    assert item["source_cost_usd"] == Decimal("0.5")
