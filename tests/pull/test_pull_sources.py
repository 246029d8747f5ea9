"""sources.yml (SPEC 2.7): a bad file exits 2 naming the field; the asset graph shows each source.

No database is needed here: `meterline pull` validates the file before it connects.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.defs.pull.sources import load_sources

GOOD = """\
postgres:
  - name: app_events
    source: events
    dsn_env: APP_DATABASE_URL
    table: public.usage_events
    cursor_column: created_at
    lookback: 10m
  - name: app_requests
    source: usage_logs
    dsn_env: APP_DATABASE_URL
    table: request_logs
    cursor_column: createdAt
    lookback: 2h
"""


def pull(home: Path, *args: str):
    return CliRunner().invoke(main, ["pull", "--home", str(home), *args])


def test_a_good_file_loads_with_its_lookbacks(pull_home: Path):
    (pull_home / "sources.yml").write_text(GOOD)
    sources = load_sources(pull_home)
    assert [(s.name, s.source, s.lookback.total_seconds()) for s in sources] == [
        ("app_events", "events", 600),  # 10m
        ("app_requests", "usage_logs", 7200),  # 2h
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("name: app_events", "name: App-Events"), "postgres[0].name"),
        (("name: app_requests", "name: app_events"), "postgres: name 'app_events' is used twice"),
        (("source: events", "source: traces"), "postgres[0].source"),
        (("dsn_env: APP_DATABASE_URL\n    table: public", "dsn_env: 'postgres://x'\n    table: public"), "postgres[0].dsn_env"),
        (("table: request_logs", "table: 'x; drop table y'"), "postgres[1].table"),
        (("lookback: 10m", "lookback: 10x"), "postgres[0].lookback"),
        (("lookback: 2h", "lookback: 2"), "postgres[1].lookback"),
        (("    cursor_column: created_at\n", ""), "postgres[0].cursor_column: is required"),
        (("lookback: 2h", "lookback: 2h\n    schedule: hourly"), "postgres[1].schedule: is not a known field"),
    ],
)  # fmt: skip
def test_a_bad_file_exits_2_naming_the_field(pull_home: Path, change, field):
    (pull_home / "sources.yml").write_text(GOOD.replace(*change, 1))
    result = pull(pull_home)
    assert result.exit_code == 2, result.output
    assert "bad sources.yml" in result.output
    assert field in result.output
    assert "Traceback" not in result.output
    assert not (pull_home / "raw").exists()


def test_not_yaml_exits_2(pull_home: Path):
    (pull_home / "sources.yml").write_text("postgres: [unclosed\n")
    result = pull(pull_home)
    assert result.exit_code == 2
    assert "not valid YAML" in result.output


def test_without_sources_there_is_nothing_to_pull(pull_home: Path):
    result = pull(pull_home)
    assert result.exit_code == 0, result.output
    assert "nothing to pull" in result.output
    assert not (pull_home / "raw").exists()


def test_an_unknown_name_exits_2(pull_home: Path):
    (pull_home / "sources.yml").write_text(GOOD)
    result = pull(pull_home, "--name", "nope")
    assert result.exit_code == 2
    assert "no source 'nope'" in result.output


def test_each_source_is_an_asset_upstream_of_its_raw_source(pull_home: Path):
    (pull_home / "sources.yml").write_text(GOOD)
    defs = build_definitions(pull_home)
    graph = defs.resolve_asset_graph()
    events, requests = dg.AssetKey("pull_app_events"), dg.AssetKey("pull_app_requests")
    assert graph.get(dg.AssetKey(["raw", "events"])).parent_keys == {events}
    assert graph.get(dg.AssetKey(["raw", "usage_logs"])).parent_keys == {requests}
    spec = defs.resolve_assets_def(events).specs_by_key[events]
    assert spec.freshness_policy is not None
    assert spec.group_name == "pull"
    schedule = defs.resolve_schedule_def("pull_schedule")
    assert schedule.job_name == "meterline_pull"


def test_without_sources_the_graph_has_no_pull_assets(pull_home: Path):
    defs = build_definitions(pull_home)
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert not [k for k in keys if k.to_user_string().startswith("pull_")]
    assert dg.AssetKey(["raw", "events"]) in keys
