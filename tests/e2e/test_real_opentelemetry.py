"""Real OpenTelemetry output (SPEC 2.3): traces written by the OpenTelemetry Python SDK and its
official OTLP JSON file exporter land unmodified, `meterline run` ingests them, and the published
marts carry exactly the traces, tokens and provider cost the test emitted.

Prices are the shipped default catalog's: claude-sonnet-4-5 on aws.bedrock 3.30 / 16.50 per
million, cache read 0.33, cache write 4.125; gpt-4o 2.50 / 10, cache read 1.25;
claude-haiku-4-5 1 / 5; mistral-large has no price.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.json.file.trace_exporter import FileSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    set_span_in_context,
)

from orchestration.cli import main

DAY = "2026-11-10"
T0 = int(datetime(2026, 11, 10, 10, 0, tzinfo=UTC).timestamp()) * 1_000_000_000
SECOND = 1_000_000_000


def emit(path: Path) -> tuple[str, str]:
    """Two traces through the real SDK and exporter; returns their trace ids (hex)."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": "helpdesk", "tenant.id": "otel-co"})
    )
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path)))
    tracer = provider.get_tracer("meterline-test")

    # trace 1: an agent reporting its calls' totals (1500 / 350, what its calls are metered for)
    agent = tracer.start_span(
        "invoke_agent helper",
        start_time=T0,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "agent.id": "helper",
            "gen_ai.usage.input_tokens": 1500,
            "gen_ai.usage.output_tokens": 350,
        },
    )
    context = set_span_in_context(agent)
    calls = [
        {  # ((1000 − 200 − 100) × 3.30 + 200 × 0.33 + 100 × 4.125 + 300 × 16.50) / 1e6 = 0.0077385
            "gen_ai.request.model": "claude-sonnet-4-5-20250929",
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.reasoning.output_tokens": 50,
        },
        {  # ((400 − 100) × 2.50 + 100 × 1.25 + 40 × 10) / 1e6 = 0.001275
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.system": "openai",
            "gen_ai.usage.input_tokens": 400,
            "gen_ai.usage.cache_read.input_tokens": 100,
            "gen_ai.usage.output_tokens": 40,
        },
        {  # no price: unknown
            "gen_ai.request.model": "mistral-large",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        },
    ]
    for i, attributes in enumerate(calls, start=1):
        call = tracer.start_span(
            "chat",
            context=context,
            start_time=T0 + i * SECOND,
            attributes={"gen_ai.operation.name": "chat", **attributes},
        )
        call.end(end_time=T0 + i * SECOND + SECOND // 2)
    agent.end(end_time=T0 + 5 * SECOND)

    # trace 2: started by a caller outside the platform (its parent is remote)
    remote = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    call = tracer.start_span(
        "chat",
        context=set_span_in_context(NonRecordingSpan(remote)),
        start_time=T0 + 60 * SECOND,
        attributes={  # (2000 × 1 + 100 × 5) / 1e6 = 0.0025
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-haiku-4-5",
            "gen_ai.usage.input_tokens": 2000,
            "gen_ai.usage.output_tokens": 100,
        },
    )
    call.end(end_time=T0 + 61 * SECOND)
    provider.shutdown()
    return (
        format(agent.get_span_context().trace_id, "032x"),
        format(remote.trace_id, "032x"),
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("otel-home")
    landing = home / "raw" / "traces" / DAY
    landing.mkdir(parents=True)
    trace_ids = emit(landing / "otel-sdk.jsonl")  # the exporter's own file, as it wrote it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("METERLINE_HOME", raising=False)
        result = CliRunner().invoke(main, ["run", "--home", str(home)])
    assert result.exit_code == 0, result.output
    connection = duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    yield connection, trace_ids, home
    connection.close()


def test_the_exporter_wrote_what_spec_2_3_describes(published) -> None:
    _, _, home = published
    text = (home / "raw" / "traces" / DAY / "otel-sdk.jsonl").read_text()
    assert '"resourceSpans"' in text and '"flags":768' in text.replace(" ", "")


def test_traces_tokens_and_cost_match_what_was_emitted(published) -> None:
    connection, (agent_trace, remote_trace), _ = published
    rows = connection.execute(
        "SELECT trace_id, tenant_id, status, is_billable, span_count, input_tokens, "
        "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, "
        "unpriced_spans, agent_reported_input_tokens, agent_reported_output_tokens "
        "FROM fct_trace_sessions ORDER BY started_at"
    ).fetchall()
    assert rows == [
        (
            agent_trace, "otel-co", "unset", True, 4,
            1500, 350, 300, 100, 50,
            Decimal("0.0077385") + Decimal("0.001275"), 1,
            1500, 350,
        ),
        (remote_trace, "otel-co", "unset", True, 1, 2000, 100, 0, 0, 0, Decimal("0.0025"), 0, 0, 0),
    ]  # fmt: skip
    usage = dict(
        connection.execute(
            "SELECT meter, quantity FROM tenant_monthly_usage WHERE tenant_id = 'otel-co'"
        ).fetchall()
    )
    assert usage == {
        "traces": 2,
        "llm_input_tokens": 1000 + 400 + 100 + 2000,
        "llm_output_tokens": 300 + 40 + 10 + 100,
        "llm_cache_read_tokens": 300,
        "llm_cache_write_tokens": 100,
        "llm_reasoning_tokens": 50,
    }
    assert connection.execute(
        "SELECT cost_usd, unpriced_items FROM platform_daily_cost WHERE tenant_id = 'otel-co'"
    ).fetchall() == [(Decimal("0.0077385") + Decimal("0.001275") + Decimal("0.0025"), 1)]
    assert connection.execute(
        "SELECT source, provider, model, items, input_tokens, output_tokens FROM unpriced_usage"
    ).fetchall() == [("traces", None, "mistral-large", 1, 100, 10)]
