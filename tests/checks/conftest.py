"""A tiny warehouse, built with DuckDB DDL, on which every check passes.

Only the columns the checks read exist. Two tenants: acme (events, LLM requests, one billable
trace and one failed trace; token details on two requests) and globex (events and session steps), with a duplicate or a
conflicting copy in every source that must not count. acme's voice minutes happened at
2026-11-01T00:30Z, still 31 October in the America/Los_Angeles zone the test suite runs in:
they count on 1 November.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

WAREHOUSE_SQL = """
create table int_events_copies_classified (
    tenant_id varchar, meter varchar, quantity decimal(38, 12), event_time timestamptz,
    copy_status varchar
);
insert into int_events_copies_classified values
    ('acme', 'api_call', 1, '2026-10-03 10:00:00+00', 'accepted'),
    ('acme', 'api_call', 1, '2026-10-03 10:00:00+00', 'duplicate'),
    ('acme', 'voice_minute', 2.75, '2026-11-01 00:30:00+00', 'accepted'),
    ('globex', 'storage_mb', 5.5, '2026-10-03 12:00:00+00', 'accepted'),
    ('globex', 'storage_mb', 18.25, '2026-10-03 12:00:00+00', 'conflict');

create table int_usage_logs_copies_classified (
    tenant_id varchar, input_tokens decimal(38, 12), output_tokens decimal(38, 12),
    tool_calls decimal(38, 12), event_time timestamptz, copy_status varchar,
    cache_read_tokens decimal(38, 12), cache_write_tokens decimal(38, 12),
    reasoning_tokens decimal(38, 12)
);
insert into int_usage_logs_copies_classified values
    ('acme', 1200, 350, 3, '2026-10-03 11:00:00+00', 'accepted', 200, 0, null),
    ('acme', 5000, 12000, 0, '2026-10-03 12:00:00+00', 'accepted', null, null, 4000),
    ('acme', 1200, 350, 3, '2026-10-03 11:00:00+00', 'duplicate', 200, 0, null);

create table int_usage_logs_costed (
    tenant_id varchar, event_time timestamptz, cost_usd decimal(38, 12), copy_status varchar,
    cost_source varchar
);
insert into int_usage_logs_costed values
    ('acme', '2026-10-03 11:00:00+00', 0.00885, 'accepted', 'catalog'),
    ('acme', '2026-10-03 12:00:00+00', 0.195, 'accepted', 'source');

create table int_spans_costed (
    trace_id varchar, tenant_id varchar, start_time timestamptz, input_tokens decimal(38, 12),
    output_tokens decimal(38, 12), cost_usd decimal(38, 12), copy_status varchar,
    cost_source varchar
);
insert into int_spans_costed values
    ('t1', 'acme', '2026-10-03 12:00:00+00', null, null, 0, 'accepted', 'none'),
    ('t1', 'acme', '2026-10-03 12:00:01+00', 812, 164, 0.004896, 'accepted', 'catalog'),
    ('t2', 'acme', '2026-10-03 12:30:00+00', 100, 20, 0.0006, 'accepted', 'catalog');

create table int_traces_copies_classified as
select
    tenant_id, start_time, input_tokens, output_tokens, copy_status,
    cast(null as decimal(38, 12)) as cache_read_tokens,
    cast(null as decimal(38, 12)) as cache_write_tokens,
    cast(null as decimal(38, 12)) as reasoning_tokens
from int_spans_costed
union all
select 'acme', timestamptz '2026-10-03 12:00:01+00', 812, 164, 'duplicate', null, null, null;

create table int_traces_assembled (
    trace_id varchar, tenant_id varchar, started_at timestamptz, is_billable boolean
);
insert into int_traces_assembled values
    ('t1', 'acme', '2026-10-03 12:00:00+00', true),
    ('t2', 'acme', '2026-10-03 12:30:00+00', false);

create table int_sessions_copies_classified (
    tenant_id varchar, meter varchar, quantity decimal(38, 12), event_time timestamptz,
    source_cost_usd decimal(38, 12), copy_status varchar
);
insert into int_sessions_copies_classified values
    ('globex', 'api_call', 1, '2026-10-03 09:00:00+00', 0.00283, 'accepted'),
    ('globex', 'api_call', 1, '2026-10-03 09:00:00+00', 0.00283, 'duplicate'),
    ('globex', 'ai_query', 1, '2026-10-03 09:05:00+00', null, 'accepted');

create table fct_usage_records (
    record_key varchar, source varchar, tenant_id varchar, meter varchar,
    quantity decimal(38, 12), event_time timestamptz, cost_usd decimal(38, 12),
    cost_source varchar
);
insert into fct_usage_records values
    ('events:e1:api_call', 'events', 'acme', 'api_call', 1, '2026-10-03 10:00:00+00', 0, 'none'),
    ('events:e2:voice_minute', 'events', 'acme', 'voice_minute', 2.75,
     '2026-11-01 00:30:00+00', 0, 'none'),
    ('events:e3:storage_mb', 'events', 'globex', 'storage_mb', 5.5, '2026-10-03 12:00:00+00', 0,
     'none'),
    ('usage_logs:r1:llm_input_tokens', 'usage_logs', 'acme', 'llm_input_tokens', 1200,
     '2026-10-03 11:00:00+00', 0.00885, 'catalog'),
    ('usage_logs:r1:llm_output_tokens', 'usage_logs', 'acme', 'llm_output_tokens', 350,
     '2026-10-03 11:00:00+00', 0, 'catalog'),
    ('usage_logs:r1:tool_calls', 'usage_logs', 'acme', 'tool_calls', 3,
     '2026-10-03 11:00:00+00', 0, 'catalog'),
    ('usage_logs:r1:llm_cache_read_tokens', 'usage_logs', 'acme', 'llm_cache_read_tokens', 200,
     '2026-10-03 11:00:00+00', 0, 'catalog'),
    ('usage_logs:r2:llm_input_tokens', 'usage_logs', 'acme', 'llm_input_tokens', 5000,
     '2026-10-03 12:00:00+00', 0.195, 'source'),
    ('usage_logs:r2:llm_output_tokens', 'usage_logs', 'acme', 'llm_output_tokens', 12000,
     '2026-10-03 12:00:00+00', 0, 'source'),
    ('usage_logs:r2:llm_reasoning_tokens', 'usage_logs', 'acme', 'llm_reasoning_tokens', 4000,
     '2026-10-03 12:00:00+00', 0, 'source'),
    ('traces:t1/s2:llm_input_tokens', 'traces', 'acme', 'llm_input_tokens', 812,
     '2026-10-03 12:00:01+00', 0.004896, 'catalog'),
    ('traces:t1/s2:llm_output_tokens', 'traces', 'acme', 'llm_output_tokens', 164,
     '2026-10-03 12:00:01+00', 0, 'catalog'),
    ('traces:t2/s1:llm_input_tokens', 'traces', 'acme', 'llm_input_tokens', 100,
     '2026-10-03 12:30:00+00', 0.0006, 'catalog'),
    ('traces:t2/s1:llm_output_tokens', 'traces', 'acme', 'llm_output_tokens', 20,
     '2026-10-03 12:30:00+00', 0, 'catalog'),
    ('traces:t1:traces', 'traces', 'acme', 'traces', 1, '2026-10-03 12:00:00+00', 0, 'none'),
    ('sessions:op1:api_call', 'sessions', 'globex', 'api_call', 1,
     '2026-10-03 09:00:00+00', 0.00283, 'source'),
    ('sessions:op2:ai_query', 'sessions', 'globex', 'ai_query', 1, '2026-10-03 09:05:00+00', 0,
     'none');

create table tenant_daily_usage (
    usage_date date, tenant_id varchar, meter varchar, quantity decimal(38, 12),
    record_count bigint
);
insert into tenant_daily_usage values
    ('2026-10-03', 'acme', 'api_call', 1, 1),
    ('2026-10-03', 'acme', 'llm_input_tokens', 7112, 4),
    ('2026-10-03', 'acme', 'llm_output_tokens', 12534, 4),
    ('2026-10-03', 'acme', 'tool_calls', 3, 1),
    ('2026-10-03', 'acme', 'traces', 1, 1),
    ('2026-10-03', 'acme', 'llm_cache_read_tokens', 200, 1),
    ('2026-10-03', 'acme', 'llm_reasoning_tokens', 4000, 1),
    ('2026-11-01', 'acme', 'voice_minute', 2.75, 1),
    ('2026-10-03', 'globex', 'ai_query', 1, 1),
    ('2026-10-03', 'globex', 'api_call', 1, 1),
    ('2026-10-03', 'globex', 'storage_mb', 5.5, 1);

create table tenant_monthly_usage as
select
    cast(date_trunc('month', usage_date) as date) as usage_month,
    tenant_id, meter, sum(quantity) as quantity, sum(record_count) as record_count
from tenant_daily_usage
group by all;

create table fct_trace_sessions (
    trace_id varchar, tenant_id varchar, started_at timestamptz, duration_ms bigint,
    status varchar, is_billable boolean, span_count bigint, llm_call_count bigint,
    tool_call_count bigint, retrieval_count bigint, embedding_count bigint,
    input_tokens decimal(38, 12), output_tokens decimal(38, 12), cost_usd decimal(38, 12),
    unpriced_spans bigint
);
insert into fct_trace_sessions values
    ('t1', 'acme', '2026-10-03 12:00:00+00', 4200, 'ok', true, 2, 1, 0, 0, 0, 812, 164, 0.004896,
     0),
    ('t2', 'acme', '2026-10-03 12:30:00+00', 1500, 'error', false, 1, 1, 0, 0, 0, 100, 20, 0.0006,
     0);

create table agent_daily_stats (
    usage_date date, tenant_id varchar, agent_id varchar, sessions bigint, error_sessions bigint,
    input_tokens decimal(38, 12), output_tokens decimal(38, 12), cost_usd decimal(38, 12)
);
insert into agent_daily_stats values
    ('2026-10-03', 'acme', 'support-bot', 2, 1, 912, 184, 0.005496);

create table platform_daily_cost (
    usage_date date, source varchar, tenant_id varchar, cost_usd decimal(38, 12),
    unpriced_items bigint
);
insert into platform_daily_cost values
    ('2026-10-03', 'sessions', 'globex', 0.00283, 0),
    ('2026-10-03', 'traces', 'acme', 0.005496, 0),
    ('2026-10-03', 'usage_logs', 'acme', 0.20385, 0);

-- The analytics marts of fct_trace_sessions (t1 ok and t2 error, both acme on 10-03, one team):
-- 2 sessions, 1 error, 812 + 100 input and 164 + 20 output tokens, 0.004896 + 0.0006 USD.
create table team_daily_stats (
    usage_date date, tenant_id varchar, team_id varchar, sessions bigint, error_sessions bigint,
    input_tokens decimal(38, 12), output_tokens decimal(38, 12), cost_usd decimal(38, 12)
);
insert into team_daily_stats values ('2026-10-03', 'acme', 'team-a', 2, 1, 912, 184, 0.005496);

create table platform_daily_stats (
    usage_date date, tenants bigint, sessions bigint, billable_sessions bigint,
    error_sessions bigint, input_tokens decimal(38, 12), output_tokens decimal(38, 12),
    cost_usd decimal(38, 12), unpriced_spans bigint
);
insert into platform_daily_stats values ('2026-10-03', 1, 2, 1, 1, 912, 184, 0.005496, 0);

-- Cost per month, tenant and source: usage_logs r1 + r2 = 0.00885 + 0.195; traces: the spans with
-- tokens 0.004896 + 0.0006, the tool span without tokens 0; sessions op1 0.00283 + op2 0.
create table feature_monthly_usage (
    usage_month date, tenant_id varchar, source varchar, feature varchar, provider varchar,
    operations bigint, cost_usd decimal(38, 12)
);
insert into feature_monthly_usage values
    ('2026-10-01', 'acme', 'usage_logs', 'support', null, 2, 0.20385),
    ('2026-10-01', 'acme', 'traces', 'chat', null, 2, 0.005496),
    ('2026-10-01', 'acme', 'traces', 'execute_tool', null, 1, 0),
    ('2026-10-01', 'globex', 'sessions', 'google_maps', 'google_maps', 2, 0.00283);

-- October invoiced: acme's records cost 0.00885 + 0.195 + 0.004896 + 0.0006 = 0.209346 against
-- a 514.00 invoice; globex (no plan) 0.00283 against nothing. November was not invoiced.
create table tenant_monthly_margin (
    usage_month date, tenant_id varchar, plan varchar, invoice_status varchar,
    billed_total decimal(18, 2), provider_cost_usd decimal(38, 12), unpriced_items bigint,
    margin_usd decimal(38, 12)
);
insert into tenant_monthly_margin values
    ('2026-10-01', 'acme', 'growth', 'final', 514.00, 0.209346, 0, 513.790654),
    ('2026-10-01', 'globex', null, 'unbilled', 0.00, 0.00283, 0, -0.00283);

-- The audit describes whole raw files, of which the intermediate tables above hold only the
-- few items the reconciliations need: 1 of the 20 events items is quarantined, exactly 5 %.
create table ingest_audit (
    source varchar, file varchar, delivery_date date, lines_read bigint, items_read bigint,
    accepted bigint, duplicates bigint, conflicts bigint, quarantined bigint
);
insert into ingest_audit values
    ('events', 'events/2026-10-03/events.jsonl', '2026-10-03', 20, 20, 17, 1, 1, 1),
    ('usage_logs', 'usage_logs/2026-10-03/usage_logs.jsonl', '2026-10-03', 3, 3, 2, 1, 0, 0),
    ('traces', 'traces/2026-10-03/traces.jsonl', '2026-10-03', 1, 4, 3, 1, 0, 0),
    ('sessions', 'sessions/2026-10-03/sessions.jsonl', '2026-10-03', 1, 3, 2, 1, 0, 0);

create table quarantine (
    source varchar, file varchar, line_number bigint, item_position bigint, reason varchar,
    raw varchar, delivery_date date
);
insert into quarantine values
    ('events', 'events/2026-10-03/events.jsonl', 20, 0, 'bad_quantity',
     '{"id": "e20", "quantity": -1}', '2026-10-03');
"""


@pytest.fixture(scope="session")
def reconciled_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture warehouse, built once per test session; copy it before changing it."""
    path = tmp_path_factory.mktemp("reconciled") / "build.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(WAREHOUSE_SQL)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A METERLINE_HOME of the test's own."""
    return tmp_path / "home"


@pytest.fixture
def warehouse(reconciled_warehouse_file: Path, home: Path) -> Path:
    """A private copy of the fixture warehouse at `<home>/warehouse/build.duckdb`."""
    path = home / "warehouse" / "build.duckdb"
    path.parent.mkdir(parents=True)
    shutil.copy(reconciled_warehouse_file, path)
    return path


@pytest.fixture
def tamper(warehouse: Path) -> Callable[[str], None]:
    """Runs SQL on the test's warehouse: changes behind the checks' back."""

    def run(sql: str) -> None:
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute(sql)

    return run
