"""The GX project: committed suites that match the rules, per-home results, no network, fast."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from orchestration.defs.checks import RULES, gx_runner, run_rule
from orchestration.defs.checks.gx_runner import GX_PROJECT_DIR, SUITES_DIR, SuiteRunner
from orchestration.defs.checks.reconciliation import PUBLISHED_RULES

REPO = Path(__file__).resolve().parents[2]


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_every_rule_has_its_committed_suite_and_every_suite_a_rule() -> None:
    suites = {path.stem: json.loads(path.read_text()) for path in SUITES_DIR.glob("*.json")}

    every_rule = [*RULES.values(), *PUBLISHED_RULES.values()]
    assert set(suites) == {rule.suite_name for rule in every_rule}
    for rule in every_rule:
        suite = suites[rule.suite_name]
        assert suite["name"] == rule.suite_name
        assert rule.statement, f"{rule.name}.sql starts with the rule in one sentence"
        assert suite["notes"] == rule.statement, "the suite notes repeat the SQL header"


def test_the_file_backed_project_opens_with_analytics_off(tmp_path: Path) -> None:
    import great_expectations as gx

    # A copy: opening the project creates its (git-ignored) uncommitted folders.
    shutil.copytree(GX_PROJECT_DIR, tmp_path / "gx")
    context = gx.get_context(mode="file", project_root_dir=tmp_path)

    assert context.config.analytics_enabled is False
    assert sorted(suite.name for suite in context.suites.all()) == sorted(
        [*RULES, *PUBLISHED_RULES]
    )


def test_runs_never_touch_the_committed_project(warehouse: Path, home: Path) -> None:
    before = tree_digest(GX_PROJECT_DIR)

    run_rule("daily_usage_matches_bronze", warehouse, home)

    assert tree_digest(GX_PROJECT_DIR) == before
    assert not (GX_PROJECT_DIR / "uncommitted").exists()


def test_two_homes_keep_their_own_results(reconciled_warehouse_file: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    run_rule("daily_usage_matches_bronze", reconciled_warehouse_file, first)
    outcome = run_rule("monthly_usage_matches_daily", reconciled_warehouse_file, second)
    run_rule("trace_sessions_match_spans", reconciled_warehouse_file, first)

    def suites_with_results(home: Path) -> set[str]:
        return {path.name for path in (home / "gx" / "validations").iterdir()}

    assert suites_with_results(first) == {
        "daily_usage_matches_bronze",
        "trace_sessions_match_spans",
    }
    assert suites_with_results(second) == {"monthly_usage_matches_daily"}
    assert outcome.data_docs_path is not None
    assert outcome.data_docs_path.is_relative_to(second / "gx" / "data_docs")
    index = (first / "gx" / "data_docs" / "local_site" / "index.html").read_text()
    assert "trace_sessions_match_spans" in index and "monthly_usage_matches_daily" not in index


def test_a_run_opens_no_network_connection(
    warehouse: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checks tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    assert run_rule("platform_cost_matches_provider_cost", warehouse, home).passed


def test_a_runner_is_created_in_well_under_a_second(tmp_path: Path) -> None:
    started = time.perf_counter()
    runner = SuiteRunner(tmp_path)
    elapsed = time.perf_counter() - started

    assert runner.suite_names() == sorted([*RULES, *PUBLISHED_RULES])
    assert elapsed < 1.0, f"creating the GX context took {elapsed:.2f}s"


def test_importing_the_rules_does_not_import_great_expectations() -> None:
    # Dagster imports the rules to declare its checks; GX alone takes seconds to import.
    probe = "import sys, orchestration.defs.checks; print('great_expectations' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "False"


def test_the_live_store_keeps_the_latest_results_of_each_suite_and_archives_the_rest(
    warehouse: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gx_runner, "RESULTS_KEPT_PER_SUITE", 2)

    oldest, *latest = [run_rule("monthly_usage_matches_daily", warehouse, home) for _ in range(3)]

    suite_runs = Path("validations", "monthly_usage_matches_daily", gx_runner.RUN_NAME)
    assert oldest.data_docs_path is not None
    oldest_run = oldest.data_docs_path.parent.name
    assert [run.name for run in (home / "gx" / "archive" / suite_runs).iterdir()] == [oldest_run]
    assert len(list((home / "gx" / suite_runs).iterdir())) == 2
    # GX drops the pages of results that left the live store; the latest pages stay linked
    assert not oldest.data_docs_path.exists()
    index = (home / "gx" / "data_docs" / "local_site" / "index.html").read_text()
    assert oldest_run not in index
    for outcome in latest:
        assert outcome.data_docs_path is not None and outcome.data_docs_path.is_file()
        assert outcome.data_docs_path.parent.name in index


def test_a_suite_page_is_rendered_again_only_when_its_suite_changed(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, suites)
    suite = "quarantine_rate_within_bound"
    page = tmp_path / "home" / "gx" / "data_docs" / "local_site" / "expectations" / f"{suite}.html"

    def validate_and_build() -> int:
        runner = SuiteRunner(tmp_path / "home", suites)
        frame = pd.DataFrame({"source": ["events"], "quarantine_rate": [0.0]})
        runner.validate(suite, frame, {"max_quarantine_rate": 0.05})
        runner.build_data_docs()
        return page.stat().st_mtime_ns

    rendered = validate_and_build()
    assert validate_and_build() == rendered
    later = rendered + 10**9
    os.utime(suites / f"{suite}.json", ns=(later, later))
    assert validate_and_build() > rendered
