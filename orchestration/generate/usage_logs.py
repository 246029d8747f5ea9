"""`usage_logs` (SPEC 2.2): one line per LLM request, as the app's Firestore export writes it."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import polars as pl

from orchestration.generate.calendar import Chunk
from orchestration.generate.render import (
    TimeForm,
    decimal_text,
    dumps,
    hex_ids,
    literals,
    pick,
    quote_if,
    time_value,
    times_text,
)
from orchestration.generate.source import (
    ACCEPTED,
    BAD_QUANTITY,
    BAD_TIMESTAMP,
    CONFLICT,
    DROP,
    DUPLICATE,
    FUTURE_TIMESTAMP,
    MALFORMED_JSON,
    MISSING_TENANT,
    SourceBuilder,
    TrapKit,
    TrapLine,
    with_fields,
)
from orchestration.generate.tenants import pick_tenants

SOURCE = "usage_logs"

# Model, request weight, and the app's own price in cents per million tokens (input, output),
# used only to fill `costCents`; most of these models are in no catalog price list.
MODELS = (
    ("claude-sonnet-4-5", 0.40, 300, 1500),
    ("claude-sonnet-4-5-20250929", 0.05, 300, 1500),  # a dated id: found by the catalog's pattern
    ("claude-haiku-4-5", 0.15, 100, 500),
    ("gpt-4o-mini", 0.15, 15, 60),
    ("gpt-4.1", 0.10, 200, 800),
    ("gemini-2.5-flash", 0.10, 30, 250),
    ("llama-3.3-70b-internal", 0.05, 60, 60),
)
ASSISTANTS = ("streamlined_plan", "website_generation", "support_chat", "code_review", "analyst")
# Who served a request, by model family (SPEC 2.2 `provider`): Claude mostly direct, a quarter on
# Amazon Bedrock (its own price in the catalog), some without a provider; the in-house llama has
# none (and no catalog price: without costCents it is unpriced).
PROVIDERS = ("anthropic", "aws.bedrock", "openai", "gcp.gemini")
_CLAUDE_PROVIDER_P = (0.6, 0.25, 0.15)  # anthropic, aws.bedrock, absent
_CACHED = 0.35  # share of requests that read part of their prompt from the cache
_CACHE_WRITE = 0.10  # share that write to the cache
_REASONING = 0.20  # share with reasoning tokens
_KEYLESS = 0.01  # share of lines without requestId (keyed by their content hash)
_TOKENS_AS_STRING = 0.03
_COST_ABSENT = 0.15  # no costCents: provider cost comes from the catalog's model_prices
_FORMS = np.array([TimeForm.FIRESTORE, TimeForm.FIRESTORE_PROTO, TimeForm.ISO_Z_MILLIS])
_FORM_WEIGHTS = np.array([0.5, 0.25, 0.25])
# toolInvocations: absent, {}, {"retrieval": a}, {"webSearch": b}, {"retrieval": a, "webSearch": b}
_TOOL_WEIGHTS = np.array([0.3, 0.2, 0.2, 0.15, 0.15])
_TOOL_HEAD = (
    None,
    ',"toolInvocations":{}',
    ',"toolInvocations":{"retrieval":',
    ',"toolInvocations":{"webSearch":',
    ',"toolInvocations":{"retrieval":',
)
_TOOL_MIDDLE = ("", "", "", "", ',"webSearch":')
_TOOL_TAIL = ("", "", "}", "}", "}")


class UsageLogsBuilder(SourceBuilder):
    """Regular request lines (Firestore and ISO timestamps, some keyless, some without cost),
    and the usage_logs traps."""

    source = SOURCE

    def chunk_rows(self, chunk: Chunk) -> pl.DataFrame:
        """One chunk of request lines (see `SourceBuilder`)."""
        rng, n = self.rng, chunk.size
        deliveries = chunk.deliveries(rng, self.window)
        model = rng.choice(len(MODELS), size=n, p=[m[1] for m in MODELS])
        tokens_in = np.clip(rng.lognormal(np.log(1400), 0.9, size=n), 1, 200_000).astype(np.int64)
        tokens_out = np.clip(rng.lognormal(np.log(380), 1.0, size=n), 1, 32_000).astype(np.int64)
        price_in = np.array([m[2] for m in MODELS])[model]
        price_out = np.array([m[3] for m in MODELS])[model]
        tools = rng.choice(len(_TOOL_HEAD), size=n, p=_TOOL_WEIGHTS)
        cache_read = np.where(
            rng.random(n) < _CACHED,
            (tokens_in * rng.uniform(0.3, 0.9, size=n)).astype(np.int64),
            -1,
        )
        cache_write = np.where(
            rng.random(n) < _CACHE_WRITE,
            ((tokens_in - np.maximum(cache_read, 0)) * rng.uniform(0, 0.5, size=n)).astype(
                np.int64
            ),
            -1,
        )
        reasoning = np.where(
            rng.random(n) < _REASONING,
            (tokens_out * rng.uniform(0.1, 0.7, size=n)).astype(np.int64),
            -1,
        )
        family = np.array([_family(m[0]) for m in MODELS])[model]
        claude_provider = rng.choice(3, size=n, p=_CLAUDE_PROVIDER_P)
        provider = np.select(
            [family == "claude", family == "gpt", family == "gemini"],
            [np.where(claude_provider == 2, len(PROVIDERS), claude_provider), 2, 3],
            len(PROVIDERS),
        )
        frame = pl.DataFrame(
            {
                "day": deliveries.day,
                "keyed": rng.random(n) >= _KEYLESS,
                "request": hex_ids(rng, n, 8),
                "tenant": pick(
                    literals(self.roster), pick_tenants(rng, len(self.roster), n, False)
                ),
                "user": rng.integers(1, 400, size=n),
                "assistant": pick(ASSISTANTS, rng.integers(0, len(ASSISTANTS), size=n)),
                "model": pick([m[0] for m in MODELS], model),
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "in_string": rng.random(n) < _TOKENS_AS_STRING,
                "out_string": rng.random(n) < _TOKENS_AS_STRING,
                "has_cost": rng.random(n) >= _COST_ABSENT,
                "cache_read": cache_read,
                "cache_write": cache_write,
                "reasoning": reasoning,
                "provider": pick([*PROVIDERS, None], provider),
                "cost": tokens_in * price_in + tokens_out * price_out,  # millionths of a cent
                "latency": rng.integers(150, 60_000, size=n),
                "tools": tools,
                "retrieval": rng.integers(1, 4, size=n),
                "web": rng.integers(1, 4, size=n),
                "created_at": times_text(
                    deliveries.ms, rng.choice(_FORMS, size=n, p=_FORM_WEIGHTS)
                ),
            }
        )
        tools_col = pl.col("tools")
        tool_segment = pl.concat_str(
            [
                pick(_TOOL_HEAD, tools),
                pl.when(tools_col.is_in([2, 4])).then(pl.col("retrieval").cast(pl.String)),
                pick(_TOOL_MIDDLE, tools),
                pl.when(tools_col.is_in([3, 4])).then(pl.col("web").cast(pl.String)),
                pick(_TOOL_TAIL, tools),
            ],
            ignore_nulls=True,
        )
        in_quote, out_quote = quote_if(pl.col("in_string")), quote_if(pl.col("out_string"))
        text = pl.concat_str(
            [
                pl.lit("{"),
                pl.when(pl.col("keyed")).then(
                    pl.concat_str([pl.lit('"requestId":"req_'), pl.col("request"), pl.lit('",')])
                ),
                pl.lit('"tenantId":'),
                pl.col("tenant"),
                pl.lit(',"userId":"u_'),
                pl.col("user").cast(pl.String),
                pl.lit('","assistant":"'),
                pl.col("assistant"),
                pl.lit('","model":"'),
                pl.col("model"),
                pl.lit('","tokensIn":'),
                in_quote,
                pl.col("tokens_in").cast(pl.String),
                in_quote,
                pl.lit(',"tokensOut":'),
                out_quote,
                pl.col("tokens_out").cast(pl.String),
                out_quote,
                pl.lit(',"totalTokens":'),
                (pl.col("tokens_in") + pl.col("tokens_out")).cast(pl.String),
                _optional_count("cacheReadTokens", "cache_read"),
                _optional_count("cacheWriteTokens", "cache_write"),
                _optional_count("reasoningTokens", "reasoning"),
                pl.when(pl.col("provider").is_not_null()).then(
                    pl.concat_str([pl.lit(',"provider":"'), pl.col("provider"), pl.lit('"')])
                ),
                pl.when(pl.col("has_cost")).then(
                    pl.concat_str([pl.lit(',"costCents":'), decimal_text(pl.col("cost"), 6)])
                ),
                pl.lit(',"latencyMs":'),
                pl.col("latency").cast(pl.String),
                pl.when(tools_col > 0).then(tool_segment),
                pl.lit(',"createdAt":'),
                pl.col("created_at"),
                pl.lit("}\n"),
            ],
            ignore_nulls=True,
        )
        rows = frame.select("day", text.alias("text"))
        self.count_regular(chunk, deliveries.day, n, Counter({ACCEPTED: n}))
        self.shapes["keyless_line"] += int(n - frame["keyed"].sum())
        self.shapes["cost_absent"] += int(n - frame["has_cost"].sum())
        self.shapes["cache_read_request"] += int(np.sum(cache_read >= 0))
        self.shapes["reasoning_request"] += int(np.sum(reasoning >= 0))
        self.shapes["bedrock_request"] += int(np.sum(provider == 1))
        self.keep_samples(chunk, deliveries.day, np.arange(n + 1), rows["text"])
        return rows

    def trap_lines(self, kit: TrapKit) -> list[TrapLine]:
        """Duplicates, conflicts, keyless re-deliveries and the quarantine reasons that apply."""
        return _usage_log_traps(kit)


def _family(model: str) -> str:
    return next((f for f in ("claude", "gpt", "gemini") if model.startswith(f)), "other")


def _optional_count(field_name: str, column: str) -> pl.Expr:
    """`,"<field>":<count>` when the column holds a count (-1 = the field is absent)."""
    return pl.when(pl.col(column) >= 0).then(
        pl.concat_str([pl.lit(f',"{field_name}":'), pl.col(column).cast(pl.String)])
    )


def _request(kit: TrapKit, day: int, **fields: object) -> dict[str, object]:
    """A plausible request on day index `day`, with `fields` replaced (`DROP` removes)."""
    request: dict[str, object] = {
        "requestId": f"req_{kit.hex(8)}",
        "tenantId": kit.tenant(),
        "userId": "u_7",
        "assistant": "support_chat",
        "model": "claude-sonnet-4-5",
        "tokensIn": 1200,
        "tokensOut": 350,
        "totalTokens": 1550,
        "costCents": 0.885,
        "latencyMs": 2300,
        "toolInvocations": {"retrieval": 1},
        "createdAt": time_value(kit.moment(day), TimeForm.FIRESTORE),
    }
    return with_fields(request, fields)


def _usage_log_traps(kit: TrapKit) -> list[TrapLine]:
    """The hand-made `usage_logs` lines."""
    s, traps = kit.scale, []

    def add(kind: str, day: int, request: object, outcome: str) -> None:
        traps.append(TrapLine(kind, day, dumps(request), (outcome,)))

    originals = kit.originals(3 * s)
    for i, (day, text) in enumerate(originals[: 2 * s]):
        later = 0 if i % 2 == 0 else int(kit.rng.integers(1, 4))
        traps.append(TrapLine("duplicate", day + later, text, (DUPLICATE,)))
    for day, text in originals[2 * s :]:
        request = json.loads(text)
        request["tokensOut"] = int(request["tokensOut"]) + 100
        add("conflict", day + 1, request, CONFLICT)

    for _ in range(s):
        day = kit.day()
        keyless = _request(kit, day, requestId=DROP)
        add("keyless_duplicate", day, keyless, ACCEPTED)
        add("keyless_duplicate", day + 2, keyless, DUPLICATE)

        day = kit.fresh_day()
        cut = dumps(_request(kit, day))[:70]
        traps.append(TrapLine("truncated_line", day, cut, (MALFORMED_JSON,), truncated=True))
        add("non_object_line", kit.day(), None, MALFORMED_JSON)
        for tenant in (DROP, None, ""):
            day = kit.day()
            add("missing_tenant", day, _request(kit, day, tenantId=tenant), MISSING_TENANT)
        for bad in ("not-a-time", {"_seconds": "soon", "_nanoseconds": 0}):
            day = kit.day()
            add("bad_timestamp", day, _request(kit, day, createdAt=bad), BAD_TIMESTAMP)
        day = kit.day()
        for at in (kit.window.day_start_ms(day + 2), kit.window.day_start_ms(day + 25)):
            future = time_value(at, TimeForm.FIRESTORE)
            add("future_timestamp", day, _request(kit, day, createdAt=future), FUTURE_TIMESTAMP)
        for field, bad in (("tokensIn", -5), ("tokensOut", "lots"), ("tokensIn", "NaN")):
            day = kit.day()
            add("bad_quantity", day, _request(kit, day, **{field: bad}), BAD_QUANTITY)
        # token details that contradict their whole (SPEC 2.2), and one that is not a count
        for details in (
            {"cacheReadTokens": 1000, "cacheWriteTokens": 201},  # 1201 > tokensIn 1200
            {"reasoningTokens": 351},  # > tokensOut 350
            {"cacheReadTokens": -1},
        ):
            day = kit.day()
            add("token_detail_contradiction", day, _request(kit, day, **details), BAD_QUANTITY)
    return traps
