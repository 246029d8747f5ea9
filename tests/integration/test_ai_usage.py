"""AI usage metered in full (SPEC 2.2, 2.3, 2.6, 3): token details, provider prices, cache prices,
legacy OTel names, base64 ids, remote-parent roots, agent totals and unpriced items, through
bronze and dbt on hand-written raw files. Every expected number is worked out in the comments.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from meterline_harness import Home, otlp_attrs, otlp_export, unix_nano

from orchestration.defs.checks.ai_usage import agent_totals_above_metered, unpriced_usage

DAY = "2026-11-01"
NEXT = "2026-11-02"
M = Decimal(1_000_000)

# claude-sonnet-4-5 (dated ids match its pattern): direct 3 / 15, cache 0.30 / 3.75; on Bedrock
# 3.30 / 16.50, cache 0.33 / 4.125. gpt-4o gives no cache prices: they default to its input
# price 2.50. future-model has a vertex price that starts only in 2027 (items of vertex are then
# unpriced, although a price for the other providers is in force) and a 5 / 5 price for the others.
CATALOG = """\
currency: USD
meters:
  traces:            {unit: trace}
  llm_input_tokens:  {unit: token}
  llm_output_tokens: {unit: token}
  tool_calls:        {unit: call}
  llm_cache_read_tokens:  {unit: token}
  llm_cache_write_tokens: {unit: token}
  llm_reasoning_tokens:   {unit: token}
model_prices:
  - {model: claude-sonnet-4-5, match: "claude-sonnet-4-5(-\\\\d{8})?", effective_from: 2026-01-01,
     input_per_million: "3.00", output_per_million: "15.00",
     cache_read_per_million: "0.30", cache_write_per_million: "3.75"}
  - {model: claude-sonnet-4-5, provider: aws.bedrock, effective_from: 2026-01-01,
     input_per_million: "3.30", output_per_million: "16.50",
     cache_read_per_million: "0.33", cache_write_per_million: "4.125"}
  - {model: gpt-4o, input_per_million: "2.50", output_per_million: "10.00", effective_from: 2026-01-01}
  - {model: future-model, provider: vertex, input_per_million: "1", output_per_million: "1",
     effective_from: 2027-01-01}
  - {model: future-model, input_per_million: "5", output_per_million: "5", effective_from: 2026-01-01}
plans:
  p:
    name: P
    monthly_fee: "0.00"
    prices:
      llm_cache_read_tokens: {included: 0, unit_price: "0.000001"}
"""


def request(key: str, model: str, tokens_in: int, tokens_out: int, **extra: Any) -> dict:
    return {
        "requestId": key,
        "tenantId": "acme",
        "model": model,
        "tokensIn": tokens_in,
        "tokensOut": tokens_out,
        **extra,
        "createdAt": f"{DAY}T10:00:00Z",
    }


USAGE_LOGS = [
    # (2000 × 3.30 + 6000 × 0.33 + 2000 × 4.125 + 1000 × 16.50) / 1e6
    # = (6600 + 1980 + 8250 + 16500) / 1e6 = 0.03333
    request(
        "req-bedrock",
        "claude-sonnet-4-5-20250929",
        10000,
        1000,
        cacheReadTokens=6000,
        cacheWriteTokens=2000,
        reasoningTokens=400,
        provider="AWS.Bedrock",
    ),
    # (2000 × 3 + 6000 × 0.30 + 2000 × 3.75 + 1000 × 15) / 1e6 = 30300 / 1e6 = 0.0303
    request(
        "req-direct",
        "claude-sonnet-4-5-20250929",
        10000,
        1000,
        cacheReadTokens=6000,
        cacheWriteTokens=2000,
        reasoningTokens=400,
    ),
    # cache read at the input price: (600 × 2.50 + 400 × 2.50 + 100 × 10) / 1e6 = 0.0035
    request("req-gpt", "gpt-4o", 1000, 100, cacheReadTokens=400),
    # every input token read from cache (the bound itself): (1000 × 2.50 + 10 × 10) / 1e6 = 0.0026
    request("req-boundary", "gpt-4o", 1000, 10, cacheReadTokens=1000, reasoningTokens=10),
    request("req-unknown", "mistral-large", 500, 50),  # no price: unknown, never 0
    request("req-vertex", "future-model", 100, 10, provider="vertex"),  # vertex price not yet
    request("req-other", "future-model", 100, 10, provider="openrouter"),  # (500 + 50) / 1e6
    request("req-free", "mistral-large", 0, 0, costCents=0),  # sent cost 0: free, not unpriced
    request("req-zero-details", "gpt-4o", 10, 1, cacheReadTokens=0, reasoningTokens=0),
    # contradictions: 600 + 500 > 1000; 101 > 100
    request("bad-cache", "gpt-4o", 1000, 100, cacheReadTokens=600, cacheWriteTokens=500),
    request("bad-reasoning", "gpt-4o", 1000, 100, reasoningTokens=101),
]

TRACE_A = "0af7651916cd43dd8448eb211c80319c"
TRACE_B = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_C = "00f067aa0ba902b700f067aa0ba902b7"
ROOT, CHAT1, CHAT2, CHAT3, TOOL = (f"a00000000000000{i}" for i in range(5))
EXTERNAL = "ffffffffffffff01"
R1, R2, X, CHILD = "b000000000000001", "b000000000000002", "b000000000000003", "b000000000000004"


def b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def otel_span(
    trace_id: str, span_id: str, start: str, parent: str | None = None, **attrs: Any
) -> dict:
    flags = attrs.pop("flags", None)
    status = attrs.pop("status", 1)
    doc: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
    if parent is not None:
        doc["parentSpanId"] = parent
    if flags is not None:
        doc["flags"] = flags
    doc |= {
        "name": "span",
        "startTimeUnixNano": unix_nano(f"{DAY}T{start}Z"),
        "endTimeUnixNano": unix_nano(f"{DAY}T{start}Z"),
        "status": {"code": status},
        "attributes": otlp_attrs({k.replace("__", "."): v for k, v in attrs.items()}),
    }
    return doc


CHAT1_ATTRS = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.provider.name": "aws.bedrock",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.cache_read.input_tokens": 200,
    "gen_ai.usage.cache_creation.input_tokens": 100,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.reasoning.output_tokens": 50,
}

# Trace A: an agent root reporting the totals 5000 / 700 (more than its calls were metered for:
# 1500 / 350), a Bedrock call with cache and reasoning tokens, a call with legacy names only
# (gen_ai.system as provider), a call with both names (current ones win) and a tool call.
# Chat 1: ((1000 − 200 − 100) × 3.30 + 200 × 0.33 + 100 × 4.125 + 300 × 16.50) / 1e6
#       = (2310 + 66 + 412.5 + 4950) / 1e6 = 0.0077385
# Chat 2: (400 × 2.50 + 40 × 10) / 1e6 = 0.0014;  Chat 3: (100 × 2.50 + 10 × 10) / 1e6 = 0.00035
TRACE_A_SPANS = [
    otel_span(
        TRACE_A,
        ROOT,
        "10:00:00",
        parent="",
        **{
            "gen_ai.operation.name": "invoke_agent",
            "agent.id": "helper",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.output_tokens": 700,
        },
    ),
    otel_span(TRACE_A, CHAT1, "10:00:01", parent=ROOT, **CHAT1_ATTRS),
    otel_span(
        TRACE_A,
        CHAT2,
        "10:00:02",
        parent=ROOT,
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.system": "openai",
            "gen_ai.usage.prompt_tokens": 400,
            "gen_ai.usage.completion_tokens": 40,
        },
    ),
    otel_span(
        TRACE_A,
        CHAT3,
        "10:00:03",
        parent=ROOT,
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.prompt_tokens": 999,
            "gen_ai.usage.output_tokens": 10,
            "gen_ai.usage.completion_tokens": 888,
        },
    ),
    otel_span(TRACE_A, TOOL, "10:00:04", parent=ROOT, **{"gen_ai.operation.name": "execute_tool"}),
]

# Trace B: started by a caller outside the platform. No span lacks a parent; R2 (remote parent,
# flags 0x300) starts first among the remote ones and is the root; X starts even earlier but its
# flags say the parent is local (0x100 only). R2's model has no price: one unpriced span.
TRACE_B_SPANS = [
    otel_span(TRACE_B, X, "11:00:00", parent=EXTERNAL, flags=256),
    otel_span(
        TRACE_B,
        R2,
        "11:00:01",
        parent=EXTERNAL,
        flags=768,
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "mistral-large",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        },
    ),
    otel_span(TRACE_B, R1, "11:00:05", parent=EXTERNAL, flags=768),
    otel_span(TRACE_B, CHILD, "11:00:06", parent=R2),
]

# Trace C: a span without parent and a remote-parent span: the parentless one is the root, and it
# failed, so trace C is not billable (the remote one, ok, is not a root).
TRACE_C_SPANS = [
    otel_span(TRACE_C, R1, "12:00:01", parent="", status=2),
    otel_span(TRACE_C, R2, "12:00:00", parent=EXTERNAL, flags=768),
]

# Re-delivered on the next day with ids as the protobuf JSON mapping writes them (base64), and
# in upper-case hex: duplicates, not new usage.
REDELIVERY = [
    otel_span(b64(TRACE_A), b64(CHAT1), "10:00:01", parent=b64(ROOT), **CHAT1_ATTRS),
    otel_span(TRACE_A.upper(), CHAT1.upper(), "10:00:01", parent=ROOT.upper(), **CHAT1_ATTRS),
]

BAD_SPANS = [
    # cache read 11 > input 10; reasoning 6 > output 5; an id that is neither hex nor base64
    otel_span(
        TRACE_C,
        "c000000000000001",
        "12:00:02",
        parent=R1,
        **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read.input_tokens": 11},
    ),
    otel_span(
        TRACE_C,
        "c000000000000002",
        "12:00:02",
        parent=R1,
        **{"gen_ai.usage.output_tokens": 5, "gen_ai.usage.reasoning.output_tokens": 6},
    ),
    otel_span("trace-c", "c000000000000003", "12:00:02"),
]


def tenant_export(spans: list[dict]) -> dict:
    return otlp_export(({"tenant.id": "acme"}, spans))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("ai-usage-home"))
    home.deliver("usage_logs", DAY, "logs.jsonl", USAGE_LOGS)
    home.deliver(
        "traces",
        DAY,
        "spans.jsonl",
        [
            tenant_export(TRACE_A_SPANS),
            tenant_export(TRACE_B_SPANS),
            tenant_export(TRACE_C_SPANS),
            tenant_export(BAD_SPANS),
        ],
    )
    home.deliver("traces", NEXT, "again.jsonl", [tenant_export(REDELIVERY)])
    home.ingest(DAY, NEXT)
    home.write_catalog(CATALOG)
    home.dbt_run()
    return home


def records(home: Home, prefix: str) -> dict[str, tuple]:
    return {
        key.split(":")[-1]: (quantity, cost, source)
        for key, quantity, cost, source in home.query(
            "SELECT record_key, quantity, cost_usd, cost_source FROM fct_usage_records "
            "WHERE record_key LIKE ? || ':%'",
            [prefix],
        )
    }


def test_cache_pricing_on_a_provider_specific_price_for_a_dated_model_id(home: Home) -> None:
    assert records(home, "usage_logs:req-bedrock") == {
        # the cost rides on the first record; the others show 0 and the same cost source
        "llm_input_tokens": (10000, Decimal("0.03333"), "catalog"),
        "llm_output_tokens": (1000, 0, "catalog"),
        "llm_cache_read_tokens": (6000, 0, "catalog"),
        "llm_cache_write_tokens": (2000, 0, "catalog"),
        "llm_reasoning_tokens": (400, 0, "catalog"),
    }
    assert records(home, "usage_logs:req-direct")["llm_input_tokens"][1] == Decimal("0.0303")


def test_cache_prices_default_to_the_input_price(home: Home) -> None:
    assert records(home, "usage_logs:req-gpt")["llm_input_tokens"][1] == Decimal("0.0035")
    assert records(home, "usage_logs:req-boundary")["llm_input_tokens"][1] == Decimal("0.0026")


def test_token_details_of_zero_yield_no_record(home: Home) -> None:
    assert sorted(records(home, "usage_logs:req-zero-details")) == [
        "llm_input_tokens",
        "llm_output_tokens",
    ]


def test_unpriced_is_unknown_and_a_sent_zero_is_free(home: Home) -> None:
    assert records(home, "usage_logs:req-unknown") == {
        "llm_input_tokens": (500, None, "unpriced"),
        "llm_output_tokens": (50, None, "unpriced"),
    }
    # a provider with entries of its own uses only them, even before any of them is in force
    assert records(home, "usage_logs:req-vertex")["llm_input_tokens"] == (100, None, "unpriced")
    # another provider falls back to the entries that name none: (100 × 5 + 10 × 5) / 1e6
    assert records(home, "usage_logs:req-other")["llm_input_tokens"][1:] == (
        Decimal("0.00055"),
        "catalog",
    )
    assert records(home, "usage_logs:req-free")["llm_input_tokens"] == (0, 0, "source")


def test_contradictions_are_quarantined_as_bad_quantity(home: Home) -> None:
    rows = home.query(
        "SELECT source, line_number, item_position, reason FROM quarantine ORDER BY ALL"
    )
    assert rows == [
        ("traces", 4, 0, "bad_quantity"),  # cache read 11 > input 10
        ("traces", 4, 1, "bad_quantity"),  # reasoning 6 > output 5
        ("traces", 4, 2, "malformed_json"),  # traceId "trace-c"
        ("usage_logs", 10, 0, "bad_quantity"),  # 600 + 500 > 1000
        ("usage_logs", 11, 0, "bad_quantity"),  # 101 > 100
    ]


def test_trace_with_agent_totals_legacy_names_and_provider_prices(home: Home) -> None:
    (trace,) = home.rows("SELECT * FROM fct_trace_sessions WHERE trace_id = ?", [TRACE_A])
    assert trace["input_tokens"] == 1000 + 400 + 100  # the agent's 5000 not counted again
    assert trace["output_tokens"] == 300 + 40 + 10
    assert (trace["cache_read_tokens"], trace["cache_write_tokens"]) == (200, 100)
    assert trace["reasoning_tokens"] == 50
    assert (trace["agent_reported_input_tokens"], trace["agent_reported_output_tokens"]) == (
        5000,
        700,
    )
    assert trace["cost_usd"] == Decimal("0.0077385") + Decimal("0.0014") + Decimal("0.00035")
    assert trace["unpriced_spans"] == 0
    assert (trace["span_count"], trace["status"], trace["is_billable"]) == (5, "ok", True)

    # the agent span yields no usage record and costs nothing
    assert records(home, f"traces:{TRACE_A}/{ROOT}") == {}
    assert records(home, f"traces:{TRACE_A}/{CHAT2}") == {
        "llm_input_tokens": (400, Decimal("0.0014"), "catalog"),
        "llm_output_tokens": (40, 0, "catalog"),
    }
    assert records(home, f"traces:{TRACE_A}/{CHAT3}")["llm_input_tokens"][0] == 100
    assert records(home, f"traces:{TRACE_A}/{TOOL}") == {}


def test_a_redelivery_with_base64_or_upper_case_ids_is_a_duplicate(home: Home) -> None:
    assert home.query(
        "SELECT accepted, duplicates, conflicts FROM ingest_audit WHERE file LIKE '%again.jsonl'"
    ) == [(0, 2, 0)]
    [(count,)] = home.query(
        "SELECT count(*) FROM fct_usage_records WHERE record_key LIKE ?", [f"%{CHAT1}%"]
    )
    assert count == 5  # input, output, cache read, cache write, reasoning: once


def test_remote_parent_root(home: Home) -> None:
    (trace,) = home.rows("SELECT * FROM fct_trace_sessions WHERE trace_id = ?", [TRACE_B])
    assert (trace["status"], trace["is_billable"]) == ("ok", True)
    assert trace["started_at"].isoformat() == f"{DAY}T11:00:01+00:00"  # R2's start
    assert (trace["unpriced_spans"], trace["cost_usd"]) == (1, 0)
    (record,) = home.rows(
        "SELECT event_time, cost_source FROM fct_usage_records WHERE record_key = ?",
        [f"traces:{TRACE_B}:traces"],
    )
    assert record["event_time"].isoformat() == f"{DAY}T11:00:01+00:00"

    (trace_c,) = home.rows("SELECT * FROM fct_trace_sessions WHERE trace_id = ?", [TRACE_C])
    assert (trace_c["status"], trace_c["is_billable"]) == ("error", False)


def test_platform_daily_cost_sums_known_costs_and_counts_unpriced(home: Home) -> None:
    costs = {
        source: (cost, unpriced)
        for source, cost, unpriced in home.query(
            "SELECT source, cost_usd, unpriced_items FROM platform_daily_cost WHERE tenant_id = 'acme'"
        )
    }
    # 0.03333 + 0.0303 + 0.0035 + 0.0026 + 0.00055 + 0 (free) + (10 × 2.50 + 1 × 10) / 1e6
    assert costs["usage_logs"] == (Decimal("0.070315"), 2)
    assert costs["traces"] == (Decimal("0.0094885"), 1)


def test_unpriced_usage_mart_and_warning(home: Home) -> None:
    rows = home.query(
        "SELECT source, provider, model, items, input_tokens, output_tokens, "
        "strftime(first_seen, '%H:%M'), strftime(last_seen, '%H:%M') FROM unpriced_usage ORDER BY ALL"
    )
    assert rows == [
        ("traces", None, "mistral-large", 1, 100, 10, "11:00", "11:00"),
        ("usage_logs", "vertex", "future-model", 1, 100, 10, "10:00", "10:00"),
        ("usage_logs", None, "mistral-large", 1, 500, 50, "10:00", "10:00"),  # NULLs last
    ]
    finding = unpriced_usage(home.warehouse)
    assert not finding.passed and finding.count == 3
    table = finding.markdown()
    assert table.splitlines()[0] == (
        "| source | provider | model | items | input_tokens | output_tokens | first_seen | last_seen |"
    )
    assert "| usage_logs | vertex | future-model | 1 | 100 | 10 |" in table


def test_agent_totals_above_metered_tokens_warn(home: Home) -> None:
    finding = agent_totals_above_metered(home.warehouse)
    assert [row[0] for row in finding.rows] == [TRACE_A]
    assert "| 1500 | 5000 | 350 | 700 |" in finding.markdown()


def test_new_meters_add_up_per_day(home: Home) -> None:
    usage = {
        meter: quantity
        for meter, quantity in home.query(
            "SELECT meter, quantity FROM tenant_daily_usage WHERE meter LIKE 'llm_%_tokens' "
            "AND meter NOT IN ('llm_input_tokens', 'llm_output_tokens')"
        )
    }
    assert usage == {
        # requests 6000 + 6000 + 400 + 1000, span 200
        "llm_cache_read_tokens": 13600,
        "llm_cache_write_tokens": 2000 + 2000 + 100,
        "llm_reasoning_tokens": 400 + 400 + 10 + 50,
    }
