"""One generated month at the default size, shared by the tests of this folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from orchestration.generate import GenerateSummary, generate_month

from .recount import Recount, recount_home

MONTH = "2026-10"
MONTH_START, MONTH_END = date(2026, 10, 1), date(2026, 11, 1)


@dataclass(frozen=True)
class Generated:
    """A generated home, what the generator says it wrote, and what a reader finds."""

    home: Path
    summary: GenerateSummary
    recount: Recount


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """`meterline generate --month 2026-10` with the default tenants, events and seed."""
    home = tmp_path_factory.mktemp("home")
    summary = generate_month(home, MONTH)
    return Generated(home, summary, recount_home(home, MONTH_START, MONTH_END))
