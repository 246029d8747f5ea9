"""The files invoicing writes stay byte-for-byte what they were before invoices became typed
`Invoice`s (issue 10): every file of a home after three invoicing runs (a month finalized, late
usage drafted then finalized as adjustment lines) equals the golden copy under
`data/golden_home/`, which the dict-based code of main (commit 966f0a0) wrote from this same
scenario. A difference in one byte of a JSON, CSV, PDF, summary, manifest or ledger file fails.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from orchestration.billing.catalog import parse_catalog
from orchestration.billing.lifecycle import issue_month

DATA = Path(__file__).with_name("data")
GOLDEN = DATA / "golden_home"
D = Decimal


def issue_golden_months(home: Path) -> None:
    """September final; October drafted with September's late usage (a copy of the drafts kept
    under `drafts/`), then final."""
    catalog = parse_catalog((DATA / "golden_catalog.yml").read_text(encoding="utf-8"))
    september = {
        # tiers 99000 x 0.01 + 3000.5 x 0.008; traces 12.3 below included (alerts at 90%)
        ("acme", "2026-09"): {"api_call": D("103000.5"), "traces": D("240000")},
        # 12 decimals kept; under the minimum commitment: a true-up line
        ("Société Générale", "2026-09"): {"voice_minute": D("12.123456789012")},
        ("summary", "2026-09"): {"api_call": D("150"), "storage_mb": D("0.000000000001")},
        ("ghost", "2026-09"): {"api_call": D("7")},  # no plan: unbilled.csv
    }
    issue_month(home, "2026-09", datetime(2026, 10, 4, 2, tzinfo=UTC), catalog, september)
    october = {
        **september,
        ("acme", "2026-09"): {"api_call": D("103100.5"), "traces": D("240000")},
        ("Société Générale", "2026-09"): {"voice_minute": D("40.5")},
        ("acme", "2026-10"): {"api_call": D("500"), "traces": D("250001")},
        ("summary", "2026-10"): {"api_call": D("99.999999999999")},
    }
    issue_month(home, "2026-10", datetime(2026, 10, 20, 9, 30, tzinfo=UTC), catalog, october)
    # the drafts are rewritten when the month is finalized: keep a copy of them
    shutil.copytree(home / "invoices" / "2026-10", home / "drafts" / "2026-10")
    issue_month(home, "2026-10", datetime(2026, 11, 4, 2, tzinfo=UTC), catalog, october)


def home_files(home: Path) -> dict[str, bytes]:
    return {
        path.relative_to(home).as_posix(): path.read_bytes()
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


def test_invoice_files_are_byte_for_byte_those_of_the_dict_based_code(tmp_path):
    issue_golden_months(tmp_path)
    written, golden = home_files(tmp_path), home_files(GOLDEN)
    assert sorted(written) == sorted(golden)
    for name, data in golden.items():
        assert written[name] == data, f"{name} differs from the golden copy"
