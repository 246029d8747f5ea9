"""Shared test set-up: no telemetry, no network, and a time zone that is not UTC on purpose."""

import os
import time
from pathlib import Path

import pytest

os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
# SPEC 8: all times are UTC whatever the machine's time zone.
os.environ["TZ"] = "America/Los_Angeles"
time.tzset()

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sample_home(tmp_path: Path) -> Path:
    """A METERLINE_HOME whose landing zone holds the shared sample lines as one delivery."""
    for source in ("events", "usage_logs", "traces", "sessions"):
        folder = tmp_path / "raw" / source / "2026-10-03"
        folder.mkdir(parents=True)
        (folder / f"{source}.jsonl").write_bytes((SAMPLES / f"{source}.jsonl").read_bytes())
    return tmp_path
