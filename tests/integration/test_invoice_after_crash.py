"""SPEC 8: `meterline invoice` refuses (exit 1, naming the run) unless the last `meterline run`
completed and published everything it ingested. A run that dies in any of its steps blocks
invoicing until a later run succeeds; a home where no run ever published refuses too."""

import errno
import json
import shutil
from pathlib import Path

import pytest
from helpers import meterline

import orchestration.defs.checks.reconciliation_checks as reconciliation_checks_asset
import orchestration.defs.ingest.assets as bronze_asset
import orchestration.defs.ingest.catalog_prices as catalog_prices
import orchestration.defs.publish.assets as publish_asset
import orchestration.defs.transform.assets as transform_asset
from orchestration.core.run_state import last_run

# crash per step: one pipeline run per step that dies (make test-slow)
pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
SOURCES = ("events", "usage_logs", "traces", "sessions")
LATE_EVENT = (
    '{"id":"late-1","business_id":"acme","event_type":"api_call","quantity":5000,'
    '"created_at":"2026-10-04T09:00:00Z"}\n'
)


def invoice(home: Path):
    return meterline(home, "invoice", "--month", "2026-10", "--now", "2026-10-20T00:00:00Z")


@pytest.fixture(scope="module")
def published_home(tmp_path_factory) -> Path:
    """The sample delivery, run once and published."""
    home = tmp_path_factory.mktemp("published") / "home"
    for source in SOURCES:
        folder = home / "raw" / source / "2026-10-03"
        folder.mkdir(parents=True)
        shutil.copy(SAMPLES / f"{source}.jsonl", folder)
    result = meterline(home, "run")
    assert result.exit_code == 0, result.output
    return home


def test_a_fresh_home_refuses_to_invoice(tmp_path: Path):
    result = invoice(tmp_path / "fresh")
    assert result.exit_code == 1
    assert "no `meterline run` has completed and published on this home yet" in result.output
    assert not (tmp_path / "fresh" / "invoices" / "2026-10").exists()


def raising(error: Exception):
    def crash(*args, **kwargs):
        raise error

    return crash


# Each step of `meterline run` that changes bronze, the warehouse or the published tables, a
# function it calls after it began, and what that function raises: a crash there leaves the run
# unpublished. A full disk and a read-only folder are reported in one line naming the cause.
STEPS = {  # Dagster step key: (module, function, error, the CLI's line)
    "bronze_ingest": (
        bronze_asset,
        "ingest_deliveries",
        RuntimeError("simulated crash"),
        "RuntimeError: simulated crash",
    ),
    "bronze__model_prices": (
        catalog_prices,
        "write_model_prices",
        RuntimeError("simulated crash"),
        "RuntimeError: simulated crash",
    ),
    "dbt_models": (
        transform_asset,
        "dbt_environment",
        OSError(errno.ENOSPC, "No space left on device", "warehouse/build.duckdb"),
        "OSError: [Errno 28] No space left on device: 'warehouse/build.duckdb'",
    ),
    "reconciliation_checks": (
        reconciliation_checks_asset,
        "run_rules",
        RuntimeError("simulated crash"),
        "RuntimeError: simulated crash",
    ),
    "published_marts": (
        publish_asset,
        "publish_marts",
        OSError(errno.EROFS, "Read-only file system", "published/versions"),
        "OSError: [Errno 30] Read-only file system: 'published/versions'",
    ),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_run_that_dies_in_any_step_blocks_invoicing_until_a_run_succeeds(
    published_home: Path, tmp_path: Path, step: str
):
    home = tmp_path / "home"
    shutil.copytree(published_home, home, symlinks=True)
    assert invoice(home).exit_code == 0
    folder = home / "raw" / "events" / "2026-10-04"
    folder.mkdir(parents=True)
    (folder / "late.jsonl").write_text(LATE_EVENT)

    module, name, error, line = STEPS[step]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, name, raising(error))
        failed = meterline(home, "run")
    assert failed.exit_code == 1, failed.output
    assert f"error in {step}: {line}\n" in failed.output
    assert "Traceback" not in failed.output
    crashed = last_run(_layout(home))
    assert crashed["status"] == "started"

    refused = invoice(home)
    assert refused.exit_code == 1
    assert f"the last pipeline run {crashed['run_id']}" in refused.output
    assert "did not complete and publish" in refused.output
    assert len(refused.output.strip().splitlines()) == 1, refused.output

    if step == "bronze_ingest":  # one recovery is enough to show the block lifts
        assert meterline(home, "run").exit_code == 0
        result = invoice(home)
        assert result.exit_code == 0, result.output
        # acme's api_call: 1 (events) + 2 (session steps) in the sample, + 5000 late
        acme = json.loads((home / "invoices" / "2026-10" / "acme.json").read_text())
        assert acme["usage"]["api_call"] == "5003"


def _layout(home: Path):
    from orchestration.core.settings import HomeLayout

    return HomeLayout(home)
