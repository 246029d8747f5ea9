"""fct_usage_records.raw_file / raw_line (SPEC 7): every record names the raw line of its item,
for all four sources, gzip included; a `traces` record names its root span's line even when the
root arrived in another file on another day. Expected lines are counted by hand in the files
below; then every record is looked up in its raw file."""

from __future__ import annotations

import gzip
import json

import pytest
from meterline_harness import Home, otlp_export, span

TRACE = "0af7651916cd43dd8448eb211c80319c"
D1, D2 = "2026-10-02", "2026-10-03"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("lineage"))
    # events: line 1, line 2 blank (not an item), line 3
    home.deliver("events", D1, "e.jsonl", [
        {"id": "ev1", "business_id": "acme", "event_type": "api_call", "quantity": 2,
         "created_at": "2026-10-02T08:00:00Z"},
        "",
        {"id": "ev2", "business_id": "acme", "event_type": "voice_minute", "quantity": 1.5,
         "created_at": "2026-10-02T09:00:00Z"},
    ])  # fmt: skip
    # usage_logs, gzip: line 2 yields three records (input, output, tool_calls)
    home.deliver("usage_logs", D1, "u.jsonl.gz", [
        {"requestId": "r1", "tenantId": "acme", "tokensIn": 10, "tokensOut": 5,
         "createdAt": "2026-10-02T10:00:00Z"},
        {"requestId": "r2", "tenantId": "acme", "tokensIn": 7, "tokensOut": 3,
         "toolInvocations": {"search": 2}, "createdAt": "2026-10-02T10:05:00Z"},
    ], gz=True)  # fmt: skip
    # traces: the child span arrives first (D1, t1.jsonl line 1); the root on D2 in t2.jsonl,
    # line 2 (line 1 is an export of another, rootless trace)
    child = span(TRACE, "b7ad6b7169203331", "2026-10-02T11:00:01Z", parent="a1b2c3d4e5f60718",
                 tenant="acme", op="chat", tokens=(100, 20))  # fmt: skip
    root = span(TRACE, "a1b2c3d4e5f60718", "2026-10-02T11:00:00Z", tenant="acme",
                op="invoke_agent", status=1)  # fmt: skip
    other = span("1" * 32, "2" * 16, "2026-10-02T12:00:00Z", parent="3" * 16, tenant="acme")
    home.deliver("traces", D1, "t1.jsonl", [otlp_export(({}, [child]))])
    home.deliver("traces", D2, "t2.jsonl", [otlp_export(({}, [other])), otlp_export(({}, [root]))])
    # sessions: one document on line 1 with two steps
    home.deliver("sessions", D2, "s.jsonl", [
        {"sessionId": "s1", "tenantId": "acme", "createdAt": "2026-10-02T13:00:00Z",
         "steps": [
             {"operationId": "op1", "usageType": "ApiUsage", "timestamp": "2026-10-02T13:00:01Z"},
             {"operationId": "op2", "usageType": "AiUsage", "timestamp": "2026-10-02T13:00:02Z"},
         ]},
    ])  # fmt: skip
    home.ingest(D1, D2)
    home.dbt_run()
    return home


def test_every_record_names_its_raw_line(home: Home) -> None:
    lineage = {
        key: (raw_file, raw_line)
        for key, raw_file, raw_line in home.query(
            "SELECT record_key, raw_file, raw_line FROM fct_usage_records"
        )
    }
    span_item = f"{TRACE}/b7ad6b7169203331"
    assert lineage == {
        "events:ev1:api_call": ("events/2026-10-02/e.jsonl", 1),
        "events:ev2:voice_minute": ("events/2026-10-02/e.jsonl", 3),
        "usage_logs:r1:llm_input_tokens": ("usage_logs/2026-10-02/u.jsonl.gz", 1),
        "usage_logs:r1:llm_output_tokens": ("usage_logs/2026-10-02/u.jsonl.gz", 1),
        "usage_logs:r2:llm_input_tokens": ("usage_logs/2026-10-02/u.jsonl.gz", 2),
        "usage_logs:r2:llm_output_tokens": ("usage_logs/2026-10-02/u.jsonl.gz", 2),
        "usage_logs:r2:tool_calls": ("usage_logs/2026-10-02/u.jsonl.gz", 2),
        f"traces:{span_item}:llm_input_tokens": ("traces/2026-10-02/t1.jsonl", 1),
        f"traces:{span_item}:llm_output_tokens": ("traces/2026-10-02/t1.jsonl", 1),
        # the trace record: its root span's line, not the first span delivered
        f"traces:{TRACE}:traces": ("traces/2026-10-03/t2.jsonl", 2),
        "sessions:op1:api_call": ("sessions/2026-10-03/s.jsonl", 1),
        "sessions:op2:ai_query": ("sessions/2026-10-03/s.jsonl", 1),
    }


def test_every_record_is_found_in_its_raw_file(home: Home) -> None:
    for record_key, raw_file, raw_line in home.query(
        "SELECT record_key, raw_file, raw_line FROM fct_usage_records"
    ):
        path = home.raw / raw_file
        data = path.read_bytes()
        lines = (gzip.decompress(data) if raw_file.endswith(".gz") else data).split(b"\n")
        item = json.loads(lines[raw_line - 1])
        # the item key of the record (an id, requestId, spanId / traceId, operationId)
        item_key = record_key.split(":")[1].split("/")[-1]
        assert item_key in json.dumps(item), (record_key, raw_file, raw_line)
