"""`traces` (SPEC 2.3): OTLP/JSON `ExportTraceServiceRequest` lines, one per collector flush.

Each trace is an agent run: a root `invoke_agent` span and children built from a few templates
(chat, text_completion, embeddings, execute_tool, retrieval with a nested embeddings call, a
sub-agent, custom operations). A line batches the spans of one or more traces delivered that day,
one `resourceSpans` entry per trace part.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import numpy as np
import polars as pl

from orchestration.generate.calendar import Chunk
from orchestration.generate.render import (
    HOUR_MS,
    decimal_text,
    dumps,
    hex_ids,
    literals,
    pick,
    quote_if,
)
from orchestration.generate.source import (
    ACCEPTED,
    BAD_QUANTITY,
    BAD_TIMESTAMP,
    CONFLICT,
    DUPLICATE,
    FUTURE_TIMESTAMP,
    MALFORMED_JSON,
    MISSING_TENANT,
    SourceBuilder,
    TrapKit,
    TrapLine,
)
from orchestration.generate.tenants import pick_tenants

SOURCE = "traces"

OPS = (
    "invoke_agent",
    "chat",
    "text_completion",
    "embeddings",
    "execute_tool",
    "retrieval",
    "prompt_generation",
    "response_processing",
    "guardrail_check",  # an operation outside the known list
)
INVOKE, CHAT, COMPLETION, EMBED, TOOL, RETRIEVAL, PROMPT, RESPONSE, GUARD = range(len(OPS))
# Span kinds: 1 internal, 3 client (calls leaving the process).
_KIND = np.array([1, 3, 3, 3, 3, 1, 1, 1, 1])

# Agent-run templates: (weight, spans), a span being (op, parent position, start ms, duration ms)
# relative to the root's start; every trace stretches its template by a random factor.
TEMPLATES = (
    (0.25, ((INVOKE, -1, 0, 1900), (CHAT, 0, 10, 1800))),
    (
        0.20,
        (
            (INVOKE, -1, 0, 4200),
            (CHAT, 0, 10, 1800),
            (TOOL, 0, 1820, 900),
            (RETRIEVAL, 0, 2730, 120),
            (EMBED, 3, 2735, 40),
            (CHAT, 0, 2860, 1300),
        ),
    ),
    (
        0.10,
        (
            (INVOKE, -1, 0, 9000),
            (CHAT, 0, 10, 1490),
            (TOOL, 0, 1510, 1490),
            (CHAT, 0, 3010, 1490),
            (TOOL, 0, 4510, 1490),
            (CHAT, 0, 6010, 2890),
        ),
    ),
    (
        0.15,
        (
            (INVOKE, -1, 0, 3000),
            (EMBED, 0, 5, 55),
            (RETRIEVAL, 0, 70, 230),
            (EMBED, 2, 80, 40),
            (COMPLETION, 0, 310, 2590),
        ),
    ),
    (
        0.10,
        ((INVOKE, -1, 0, 5000), (PROMPT, 0, 5, 45), (CHAT, 0, 60, 4740), (RESPONSE, 0, 4810, 180)),
    ),
    (
        0.10,
        (
            (INVOKE, -1, 0, 4000),
            (CHAT, 0, 10, 1490),
            (GUARD, 0, 1510, 90),
            (TOOL, 0, 1610, 890),
            (CHAT, 0, 2510, 1390),
        ),
    ),
    (
        0.10,
        (
            (INVOKE, -1, 0, 7000),
            (INVOKE, 0, 10, 4990),  # a sub-agent: an invoke_agent child, never a trace of its own
            (CHAT, 1, 20, 1980),
            (TOOL, 1, 2010, 990),
            (CHAT, 1, 3010, 1890),
            (CHAT, 0, 5010, 1890),
        ),
    ),
)
_TEMPLATE_P = np.array([w for w, _ in TEMPLATES])
_TEMPLATE_LEN = np.array([len(spans) for _, spans in TEMPLATES])
_TEMPLATE_OFFSET = np.cumsum(_TEMPLATE_LEN) - _TEMPLATE_LEN
_FLAT = np.array([span for _, spans in TEMPLATES for span in spans], dtype=np.int64)
MEAN_SPANS_PER_TRACE = float(_TEMPLATE_P @ _TEMPLATE_LEN)

# (agent id, team id, service name)
AGENTS = (
    ("support-bot", "cx", "chat-api"),
    ("sales-assistant", "sales", "crm-api"),
    ("code-reviewer", "eng", "devtools"),
    ("research-agent", "research", "chat-api"),
    ("billing-helper", "finance", "billing-api"),
    ("onboarding-guide", "cx", "web-app"),
)
# (model, weight, USD per million tokens x 1000 for input and output: the cost attribute's source)
CHAT_MODELS = (
    ("claude-sonnet-4-5", 0.45, 3000, 15000),
    ("claude-haiku-4-5", 0.15, 1000, 5000),
    ("gpt-4o", 0.15, 2500, 10000),
    ("gpt-4o-mini", 0.15, 150, 600),
    ("acme-ft-llama-70b", 0.10, 600, 600),
)
EMBED_MODELS = (("text-embedding-3-small", 0.8, 20, 0), ("voyage-3-lite", 0.2, 20, 0))
_MODELS = CHAT_MODELS + EMBED_MODELS
_CHAT_P = np.array([m[1] for m in CHAT_MODELS])
_EMBED_P = np.array([m[1] for m in EMBED_MODELS])
_PRICE_IN = np.array([m[2] for m in _MODELS])
_PRICE_OUT = np.array([m[3] for m in _MODELS])
TOOLS = ("web_search", "sql_query", "send_email", "calendar_lookup", "crm_update")
# Span names: "<op> <detail>", the detail being the agent, model or tool (or "kb", or nothing).
_NAME_PREFIX = tuple(f"{op} " for op in OPS[:6]) + OPS[6:]
_DETAILS = tuple(a for a, _, _ in AGENTS) + tuple(m[0] for m in _MODELS) + TOOLS + ("kb", "")
_CHAT_SETTINGS = tuple(
    f',{{"key":"gen_ai.request.temperature","value":{{"doubleValue":{t}}}}}'
    f',{{"key":"gen_ai.request.stream","value":{{"boolValue":{b}}}}}'
    for t in ("0.2", "0.5", "0.7", "1")
    for b in ("true", "false")
)
# Status fragments: absent, {}, code 0 (all three "unset"), ok, error.
_STATUS = (
    None,
    ',"status":{}',
    ',"status":{"code":0}',
    ',"status":{"code":1}',
    ',"status":{"code":2,"message":"tool timeout"}',
)
_OK, _ERROR = 3, 4
_UNSET_ROOT_P = np.array([0.03, 0.02, 0.01])
_FAILED = 0.015  # share of traces whose root span failed (status 2): not billable
_ROOT_PARENT_EMPTY = 0.7  # roots writing "parentSpanId":"" (the others leave the key out)
_SPAN_TENANCY = 0.25  # share of traces tagging tenant.id on spans rather than on the resource
_COST_SHARE = 0.35  # share of LLM spans carrying gen_ai.usage.cost
_INT_NANOS = 0.1  # share of lines writing UnixNano times as JSON integers
_LEGACY_NAMES = 0.08  # LLM spans from older instrumentations: gen_ai.usage.prompt/completion_tokens
_CACHED = 0.3  # chat spans that read part of their prompt from the cache
_CACHE_WRITE = 0.08  # chat spans that write to the cache
_REASONING = 0.15  # chat spans with reasoning tokens
_OLD_SYSTEM_ATTR = 0.1  # spans naming their provider with the older gen_ai.system
_AGENT_TOTALS = 0.5  # agent root spans that report the token totals of the calls below them
# Providers by model family: Claude direct or on Amazon Bedrock (its own catalog price)
PROVIDERS = ("anthropic", "aws.bedrock", "openai")
_CLAUDE_PROVIDER_P = (0.7, 0.3)
_NEW_LINE = 0.55  # chance that the next trace part starts a new line (else same collector flush)
_SCOPE = '"scopeSpans":[{"scope":{"name":"agent-runtime","version":"2.4.1"},"spans":['
OVERRIDE_TENANT = "platform-gateway"  # resource tenant.id that span tenant.id must override


def _attr(key: str, kind: str, value: str) -> str:
    """One OTLP key/value as JSON text, with a leading comma (`value` already JSON)."""
    return f',{{"key":"{key}","value":{{"{kind}":{value}}}}}'


def _attr_open(key: str, kind: str, quote: str = "") -> pl.Expr:
    """The text of an OTLP key/value up to its value (close it with `quote + "}}"`)."""
    return pl.lit(f',{{"key":"{key}","value":{{"{kind}":{quote}')


def _optional(flag: pl.Expr, *parts: pl.Expr) -> pl.Expr:
    """`parts` concatenated where `flag` holds, else null (left out by the row's concat)."""
    return pl.when(flag).then(pl.concat_str(list(parts)))


class TracesBuilder(SourceBuilder):
    """Regular OTLP export lines (a unit is a trace) and the traces traps."""

    source = SOURCE
    items_per_unit = MEAN_SPANS_PER_TRACE

    def _special_roles(self, chunk: Chunk, template: np.ndarray) -> dict[str, np.ndarray]:
        """Structural traps, all in the month's first chunk: a root delivered a day after its
        children (`root_late`), a trace split over two days (`split`), a root never delivered
        (`no_root`), a resource tenant.id overridden by the spans' own (`override`)."""
        n, s = chunk.size, self.scale
        roles = {k: np.zeros(n, dtype=bool) for k in ("root_late", "split", "no_root", "override")}
        if chunk.index != 1:
            return roles
        splittable = self.rng.permutation(np.flatnonzero(_TEMPLATE_LEN[template] >= 3))
        roles["split"][splittable[: 2 * s]] = True
        rest = self.rng.permutation(np.flatnonzero(~roles["split"]))
        roles["root_late"][rest[: 2 * s]] = True
        roles["no_root"][rest[2 * s : 4 * s]] = True
        roles["override"][rest[4 * s : 5 * s]] = True
        for kind, flags in roles.items():
            self.shapes[f"trace_{kind}"] += int(flags.sum())
        return roles

    def chunk_rows(self, chunk: Chunk) -> pl.DataFrame:
        """One chunk of export lines (see `SourceBuilder`): one row per span."""
        rng, n = self.rng, chunk.size
        deliveries = chunk.deliveries(rng, self.window, tail_ms=HOUR_MS)
        template = rng.choice(len(TEMPLATES), size=n, p=_TEMPLATE_P)
        roles = self._special_roles(chunk, template)
        # Root statuses are only counted for roots that get delivered.
        failed = (rng.random(n) < _FAILED) & ~roles["no_root"]
        unset = ~failed & ~roles["no_root"] & (rng.random(n) < _UNSET_ROOT_P.sum())
        unset_code = rng.choice(3, size=n, p=_UNSET_ROOT_P / _UNSET_ROOT_P.sum())
        span_tenancy = (rng.random(n) < _SPAN_TENANCY) | roles["override"]
        tenant = pick_tenants(rng, len(self.roster), n, cover=False)
        agent = rng.integers(0, len(AGENTS), size=n)
        factor = np.clip(rng.lognormal(0, 0.4, size=n), 0.3, 4.0)
        root_ns = deliveries.ms * 1_000_000 + rng.integers(0, 1_000_000, size=n)
        self.shapes["trace_failed"] += int(failed.sum())
        self.shapes["trace_unset_root_status"] += int(unset.sum())

        # Span arrays in template order within each trace.
        lens = _TEMPLATE_LEN[template]
        trace = np.repeat(np.arange(n), lens)
        total = len(trace)
        first = np.cumsum(lens) - lens
        pos = np.arange(total) - first[trace]
        op, parent, offset, duration = _FLAT[_TEMPLATE_OFFSET[template][trace] + pos].T
        is_root = pos == 0
        day = (
            deliveries.day[trace]
            + (roles["root_late"][trace] & is_root)
            + (roles["split"][trace] & (pos >= (lens[trace] + 1) // 2))
        )
        status = np.where(rng.random(total) < 0.9, _OK, 0)
        status[first + lens - 1] = np.where(failed, _ERROR, status[first + lens - 1])
        status[first] = np.where(failed, _ERROR, np.where(unset, unset_code, _OK))
        start = root_ns[trace] + (offset * factor[trace] * 1e6).astype(np.int64)
        end = start + (duration * factor[trace] * 1e6).astype(np.int64)
        span_id = hex_ids(rng, total, 8)
        parent_id = span_id.gather(np.where(is_root, np.arange(total), first[trace] + parent))
        chat_like = np.isin(op, (CHAT, COMPLETION))
        has_model = chat_like | (op == EMBED)
        model = np.where(
            op == EMBED,
            len(CHAT_MODELS) + rng.choice(len(EMBED_MODELS), size=total, p=_EMBED_P),
            rng.choice(len(CHAT_MODELS), size=total, p=_CHAT_P),
        )
        tokens_in = np.where(
            op == EMBED,
            np.clip(rng.lognormal(np.log(60), 0.8, size=total), 1, 8192),
            np.clip(rng.lognormal(np.log(900), 0.9, size=total), 1, 200_000),
        ).astype(np.int64)
        tokens_out = np.clip(rng.lognormal(np.log(250), 1.0, size=total), 1, 32_000)
        tokens_out = tokens_out.astype(np.int64)
        cost = tokens_in * _PRICE_IN[model] + np.where(chat_like, tokens_out, 0) * _PRICE_OUT[model]
        chat_model = np.array([m[0] for m in _MODELS])[model]
        provider = np.where(
            np.char.startswith(chat_model, "claude"),
            rng.choice(2, size=total, p=_CLAUDE_PROVIDER_P),
            np.where(np.char.startswith(chat_model, "gpt"), 2, len(PROVIDERS)),
        )
        provider = np.where(has_model, provider, len(PROVIDERS))
        provider_attr = np.where(rng.random(total) < _OLD_SYSTEM_ATTR, len(PROVIDERS), 0)
        cache_read = np.where(
            chat_like & (rng.random(total) < _CACHED),
            (tokens_in * rng.uniform(0.2, 0.9, size=total)).astype(np.int64),
            -1,
        )
        cache_write = np.where(
            chat_like & (rng.random(total) < _CACHE_WRITE),
            ((tokens_in - np.maximum(cache_read, 0)) * rng.uniform(0, 0.5, size=total)).astype(
                np.int64
            ),
            -1,
        )
        reasoning = np.where(
            chat_like & (rng.random(total) < _REASONING),
            (tokens_out * rng.uniform(0.1, 0.6, size=total)).astype(np.int64),
            -1,
        )
        # an agent root may report the totals of every model call of its trace (SPEC 2.3): they
        # are kept on the trace, never metered again
        totals_in = np.bincount(trace, weights=np.where(has_model, tokens_in, 0), minlength=n)
        totals_out = np.bincount(trace, weights=np.where(chat_like, tokens_out, 0), minlength=n)
        reports = is_root & (op == INVOKE) & (rng.random(n) < _AGENT_TOTALS)[trace]
        agent_in = np.where(reports, totals_in[trace].astype(np.int64), -1)
        agent_out = np.where(reports, totals_out[trace].astype(np.int64), -1)
        tool = rng.integers(0, len(TOOLS), size=total)
        detail = np.select(
            [op == INVOKE, has_model, op == TOOL, op == RETRIEVAL],
            [
                agent[trace],
                len(AGENTS) + model,
                len(AGENTS) + len(_MODELS) + tool,
                len(_DETAILS) - 2,
            ],
            len(_DETAILS) - 1,
        )

        # Delivery order: by day, then trace, then template position; roots never delivered go.
        order = np.lexsort((pos, trace, day))
        order = order[~(roles["no_root"][trace] & is_root)[order]]
        rows = len(order)
        row_trace, row_day = trace[order], day[order]
        block_start = np.r_[True, (row_trace[1:] != row_trace[:-1]) | (row_day[1:] != row_day[:-1])]
        day_start = np.r_[True, row_day[1:] != row_day[:-1]]
        line_start = block_start & (day_start | (rng.random(rows) < _NEW_LINE))
        line_id = np.cumsum(line_start) - 1
        lines = int(line_id[-1]) + 1
        int_nanos = (rng.random(lines) < _INT_NANOS)[line_id]
        self.shapes["int_nanos_line"] += int(np.sum(line_start & int_nanos))
        op, tenant_row = op[order], tenant[row_trace]
        resource_index = pl.Series(row_trace).scatter(np.flatnonzero(~block_start), None)

        frame = pl.DataFrame(
            {
                "day": row_day,
                "line_start": line_start,
                "block_start": block_start,
                "block_end": np.r_[block_start[1:], True],
                "line_end": np.r_[line_start[1:], True],
                "resource": self._resources(tenant, agent, span_tenancy, roles["override"]).gather(
                    resource_index
                ),
                "trace_id": hex_ids(rng, n, 16).gather(row_trace),
                "span_id": span_id.gather(order),
                "parent_id": parent_id.gather(order),
                "is_root": is_root[order],
                "root_parent": (rng.random(n) < _ROOT_PARENT_EMPTY)[row_trace],
                "name": pick(_NAME_PREFIX, op) + pick(_DETAILS, detail[order]),
                "kind": pick([str(k) for k in _KIND], op),
                "string_nanos": ~int_nanos,
                "start": start[order],
                "end": end[order],
                "op_attr": pick(_OP_ATTRS, op),
                "agent_attr": pick(_AGENT_ATTRS, agent[row_trace]),
                "user": rng.integers(1, 400, size=rows),
                "span_tenancy": span_tenancy[row_trace],
                "tenant": pick(literals(self.roster), tenant_row),
                "model_attr": pick(_MODEL_ATTRS, np.where(has_model, model, len(_MODELS))[order]),
                "settings": pick(
                    (*_CHAT_SETTINGS, None),
                    np.where(
                        op == CHAT,
                        rng.integers(0, len(_CHAT_SETTINGS), size=rows),
                        len(_CHAT_SETTINGS),
                    ),
                ),
                "tokens_in": np.where(has_model, tokens_in, agent_in)[order],
                "tokens_out": np.where(chat_like, tokens_out, agent_out)[order],
                "legacy": (has_model & (rng.random(total) < _LEGACY_NAMES))[order],
                "cache_read": cache_read[order],
                "cache_write": cache_write[order],
                "reasoning": reasoning[order],
                "provider_attr": pick(
                    _PROVIDER_ATTRS,
                    np.where(
                        provider < len(PROVIDERS), provider + provider_attr, 2 * len(PROVIDERS)
                    )[order],
                ),
                "cost": np.where(has_model & (rng.random(total) < _COST_SHARE), cost, -1)[order],
                "tool_attr": pick(_TOOL_ATTRS, np.where(op == TOOL, tool[order], len(TOOLS))),
                "documents": np.where(op == RETRIEVAL, rng.integers(1, 9, size=rows), -1),
                "status": pick(_STATUS, status[order]),
            }
        )
        self.shapes["legacy_token_names_span"] += int(frame["legacy"].sum())
        self.shapes["cache_read_span"] += int(np.sum(cache_read >= 0))
        self.shapes["agent_totals_span"] += int(np.sum(reports))
        texts = frame.select("day", _row_text().alias("text"))
        self.count_regular(chunk, row_day, lines, Counter({ACCEPTED: rows}))
        self.keep_samples(chunk, row_day, np.r_[np.flatnonzero(line_start), rows], texts["text"])
        return texts

    def _resources(
        self, tenant: np.ndarray, agent: np.ndarray, span_tenancy: np.ndarray, override: np.ndarray
    ) -> pl.Series:
        """Per trace, the opening of its `resourceSpans` entry up to the first span."""
        tenant_literal = pick(
            literals((*self.roster, OVERRIDE_TENANT)), np.where(override, len(self.roster), tenant)
        )
        return pl.select(
            pl.concat_str(
                [
                    pl.lit('{"resource":{"attributes":['),
                    pick(
                        [
                            f'{{"key":"service.name","value":{{"stringValue":"{svc}"}}}}'
                            for _, _, svc in AGENTS
                        ],
                        agent,
                    ),
                    pl.when(pl.Series(~span_tenancy | override)).then(
                        pl.concat_str(
                            [_attr_open("tenant.id", "stringValue"), tenant_literal, pl.lit("}}")]
                        )
                    ),
                    pl.lit("]},"),
                    pl.lit(_SCOPE),
                ],
                ignore_nulls=True,
            )
        ).to_series()

    def trap_lines(self, kit: TrapKit) -> list[TrapLine]:
        """Re-sent and contradicting exports, and the quarantine reasons that apply to spans."""
        return _trace_traps(kit)


# The operation comes first in the list, so its key/value goes without the leading comma.
_OP_ATTRS = tuple(_attr("gen_ai.operation.name", "stringValue", f'"{o}"')[1:] for o in OPS)
_AGENT_ATTRS = tuple(
    _attr("agent.id", "stringValue", f'"{a}"') + _attr("team.id", "stringValue", f'"{t}"')
    for a, t, _ in AGENTS
)
_MODEL_ATTRS = (*(_attr("gen_ai.request.model", "stringValue", f'"{m[0]}"') for m in _MODELS), None)
_TOOL_ATTRS = (*(_attr("gen_ai.tool.name", "stringValue", f'"{t}"') for t in TOOLS), None)
# gen_ai.provider.name for each provider, then the same with the older gen_ai.system; last: none
_PROVIDER_ATTRS = (
    *(_attr("gen_ai.provider.name", "stringValue", f'"{p}"') for p in PROVIDERS),
    *(_attr("gen_ai.system", "stringValue", f'"{p}"') for p in PROVIDERS),
    None,
)


def _row_text() -> pl.Expr:
    """One span as JSON, with the line and resource openings and closings around it."""
    col = pl.col
    nano_quote = quote_if(col("string_nanos"))
    return pl.concat_str(
        [
            pl.when(col("line_start")).then(pl.lit('{"resourceSpans":[')),
            pl.when(col("block_start") & ~col("line_start")).then(pl.lit(",")),
            col("resource"),
            pl.when(~col("block_start")).then(pl.lit(",")),
            pl.lit('{"traceId":"'),
            col("trace_id"),
            pl.lit('","spanId":"'),
            col("span_id"),
            pl.lit('",'),
            pl.when(~col("is_root"))
            .then(pl.concat_str([pl.lit('"parentSpanId":"'), col("parent_id"), pl.lit('",')]))
            .when(col("root_parent"))
            .then(pl.lit('"parentSpanId":"",')),
            pl.lit('"name":"'),
            col("name"),
            pl.lit('","kind":'),
            col("kind"),
            pl.lit(',"startTimeUnixNano":'),
            nano_quote,
            col("start").cast(pl.String),
            nano_quote,
            pl.lit(',"endTimeUnixNano":'),
            nano_quote,
            col("end").cast(pl.String),
            nano_quote,
            pl.lit(',"attributes":['),
            col("op_attr"),
            col("agent_attr"),
            _optional(
                col("is_root"),
                _attr_open("user.id", "stringValue", '"u_'),
                col("user").cast(pl.String),
                pl.lit('"}}'),
            ),
            _optional(
                col("span_tenancy"),
                _attr_open("tenant.id", "stringValue"),
                col("tenant"),
                pl.lit("}}"),
            ),
            col("model_attr"),
            col("provider_attr"),
            col("settings"),
            _optional(
                col("tokens_in") >= 0,
                pl.when(col("legacy"))
                .then(_attr_open("gen_ai.usage.prompt_tokens", "intValue", '"'))
                .otherwise(_attr_open("gen_ai.usage.input_tokens", "intValue", '"')),
                col("tokens_in").cast(pl.String),
                pl.lit('"}}'),
            ),
            _optional(
                col("tokens_out") >= 0,
                pl.when(col("legacy"))
                .then(_attr_open("gen_ai.usage.completion_tokens", "intValue", '"'))
                .otherwise(_attr_open("gen_ai.usage.output_tokens", "intValue", '"')),
                col("tokens_out").cast(pl.String),
                pl.lit('"}}'),
            ),
            *(
                _optional(
                    col(column) >= 0,
                    _attr_open(f"gen_ai.usage.{name}", "intValue", '"'),
                    col(column).cast(pl.String),
                    pl.lit('"}}'),
                )
                for column, name in (
                    ("cache_read", "cache_read.input_tokens"),
                    ("cache_write", "cache_creation.input_tokens"),
                    ("reasoning", "reasoning.output_tokens"),
                )
            ),
            _optional(
                col("cost") >= 0,
                _attr_open("gen_ai.usage.cost", "doubleValue"),
                decimal_text(col("cost"), 9),
                pl.lit("}}"),
            ),
            col("tool_attr"),
            _optional(
                col("documents") >= 0,
                _attr_open("retrieval.documents", "intValue", '"'),
                col("documents").cast(pl.String),
                pl.lit('"}}'),
            ),
            pl.lit("]"),
            col("status"),
            pl.lit("}"),
            pl.when(col("block_end")).then(pl.lit("]}]}")),
            pl.when(col("line_end")).then(pl.lit("]}\n")),
        ],
        ignore_nulls=True,
    )


def _chat_attributes(
    input_tokens: dict[str, object], output_tokens: dict[str, object]
) -> list[dict[str, object]]:
    """Attributes of a plain chat span, with the given OTLP token values."""
    return [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "agent.id", "value": {"stringValue": "support-bot"}},
        {"key": "team.id", "value": {"stringValue": "cx"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4-5"}},
        {"key": "gen_ai.usage.input_tokens", "value": input_tokens},
        {"key": "gen_ai.usage.output_tokens", "value": output_tokens},
    ]


def _chat_export(
    kit: TrapKit,
    start: object,
    tenant: dict[str, object] | None = None,
    input_tokens: dict[str, object] | None = None,
    output_tokens: dict[str, object] | None = None,
) -> dict[str, object]:
    """An export holding one chat span (a child of a parent never delivered), tenant.id on the
    resource (`tenant` is its OTLP value; None leaves the attribute out)."""
    ns = int(start) if str(start).isdigit() else 0
    span = {
        "traceId": kit.hex(16),
        "spanId": kit.hex(8),
        "parentSpanId": kit.hex(8),
        "name": "chat claude-sonnet-4-5",
        "kind": 3,
        "startTimeUnixNano": start,
        "endTimeUnixNano": str(ns + 1_200_000_000),
        "attributes": _chat_attributes(
            input_tokens or {"intValue": "812"}, output_tokens or {"intValue": "164"}
        ),
        "status": {"code": 1},
    }
    resource = [{"key": "service.name", "value": {"stringValue": "chat-api"}}]
    if tenant is not None:
        resource.append({"key": "tenant.id", "value": tenant})
    return _wrap({"resource": {"attributes": resource}}, [span])


def _wrap(resource: dict[str, object], spans: list[object]) -> dict[str, object]:
    """An ExportTraceServiceRequest with one resource entry holding `spans`."""
    scope = {"scope": {"name": "agent-runtime", "version": "2.4.1"}, "spans": spans}
    return {"resourceSpans": [{**resource, "scopeSpans": [scope]}]}


def _contradict(span: dict[str, object]) -> None:
    """Change a span the way a buggy re-export would: other output tokens, else another end."""
    for attribute in span["attributes"]:
        if attribute["key"] == "gen_ai.usage.output_tokens":
            attribute["value"] = {"intValue": str(int(attribute["value"]["intValue"]) + 100)}
            return
    end = span["endTimeUnixNano"]
    span["endTimeUnixNano"] = end + 1000 if isinstance(end, int) else str(int(end) + 1000)


def _trace_traps(kit: TrapKit) -> list[TrapLine]:
    """The hand-made `traces` lines."""
    s, traps = kit.scale, []
    window = kit.window

    def nanos(day: int) -> str:
        return str(kit.moment(day) * 1_000_000)

    def add(kind: str, day: int, export: object, outcome: str) -> None:
        traps.append(TrapLine(kind, day, dumps(export), (outcome,)))

    originals = kit.originals(2 * s)
    for i, (day, text) in enumerate(originals[:s]):
        export = json.loads(text)
        spans = sum(len(sc["spans"]) for rs in export["resourceSpans"] for sc in rs["scopeSpans"])
        later = 0 if i % 2 == 0 else int(kit.rng.integers(1, 4))
        traps.append(TrapLine("duplicate", day + later, text, (DUPLICATE,) * spans))
    for day, text in originals[s:]:
        block = json.loads(text)["resourceSpans"][0]
        span = block["scopeSpans"][0]["spans"][0]
        _contradict(span)
        add("conflict", day + 1, _wrap({"resource": block["resource"]}, [span]), CONFLICT)

    for _ in range(s):
        tenant = {"stringValue": kit.tenant()}
        day = kit.fresh_day()
        cut = dumps(_chat_export(kit, nanos(day), tenant))[:120]
        traps.append(TrapLine("truncated_line", day, cut, (MALFORMED_JSON,), truncated=True))
        add("non_object_line", kit.day(), "collector restarted", MALFORMED_JSON)
        for missing in (None, {}, {"stringValue": ""}):
            day = kit.day()
            add("missing_tenant", day, _chat_export(kit, nanos(day), missing), MISSING_TENANT)
        for bad in ("later", "12:30"):
            add("bad_timestamp", kit.day(), _chat_export(kit, bad, tenant), BAD_TIMESTAMP)
        day = kit.day()
        for ahead in (2, 30):
            start = str(window.day_start_ms(day + ahead) * 1_000_000)
            add("future_timestamp", day, _chat_export(kit, start, tenant), FUTURE_TIMESTAMP)
        for tokens in (
            {"input_tokens": {"intValue": "-12"}},
            {"output_tokens": {"intValue": "NaN"}},
            {"input_tokens": {"stringValue": "many"}},
        ):
            day = kit.day()
            add("bad_quantity", day, _chat_export(kit, nanos(day), tenant, **tokens), BAD_QUANTITY)
        # token details larger than their whole contradict the span (SPEC 2.3)
        for detail, value in (
            ("gen_ai.usage.cache_read.input_tokens", "813"),  # > input 812
            ("gen_ai.usage.reasoning.output_tokens", "165"),  # > output 164
        ):
            day = kit.day()
            export = _chat_export(kit, nanos(day), tenant)
            _span_of(export)["attributes"].append({"key": detail, "value": {"intValue": value}})
            add("token_detail_contradiction", day, export, BAD_QUANTITY)
        # an id that is neither hex nor the protobuf JSON mapping's base64 cannot key a span
        day = kit.day()
        export = _chat_export(kit, nanos(day), tenant)
        _span_of(export)["traceId"] = "trace-" + kit.hex(4)
        add("bad_span_id", day, export, MALFORMED_JSON)
        # a trace started by a caller outside the platform: its top span's parent is remote
        # (flags 0x300), and it is the trace's root (billable)
        day = kit.day()
        export = _chat_export(kit, nanos(day), tenant)
        _span_of(export)["flags"] = 768
        add("remote_parent_root", day, export, ACCEPTED)
        # older and current token names on one span: the current ones count
        day = kit.day()
        export = _chat_export(kit, nanos(day), tenant)
        _span_of(export)["attributes"] += [
            {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "9000"}},
            {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": "9000"}},
        ]
        add("legacy_and_current_token_names", day, export, ACCEPTED)

    # re-deliveries with the ids written as the protobuf JSON mapping writes bytes (base64), as
    # some exporters do: the same spans, so duplicates
    for day, text in kit.originals(s):
        export = json.loads(text)
        spans = [
            sp for rs in export["resourceSpans"] for sc in rs["scopeSpans"] for sp in sc["spans"]
        ]
        for span in spans:
            for field in ("traceId", "spanId", "parentSpanId"):
                if span.get(field):
                    span[field] = base64.b64encode(bytes.fromhex(span[field])).decode()
        traps.append(
            TrapLine("base64_id_redelivery", day + 1, dumps(export), (DUPLICATE,) * len(spans))
        )
    return traps


def _span_of(export: dict[str, object]) -> dict[str, object]:
    """The one span of an export made by `_chat_export`."""
    return export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
