"""The marker that stops invoicing while the latest build failed a blocking check."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from orchestration.settings import HomeLayout


def mark_checks_failed(layout: HomeLayout, failures: list[dict]) -> None:
    """Record which blocking checks failed; `meterline invoice` refuses while this exists."""
    marker = layout.checks_failed_marker
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        json.dumps({"failed_at": datetime.now(UTC).isoformat(), "failures": failures}, indent=2)
    )


def clear_checks_failed(layout: HomeLayout) -> None:
    """A run passed every check and published: invoicing may go on."""
    layout.checks_failed_marker.unlink(missing_ok=True)


def checks_failed(layout: HomeLayout) -> list[dict] | None:
    """The failures of the latest build, or None when it passed."""
    marker = layout.checks_failed_marker
    return json.loads(marker.read_text())["failures"] if marker.exists() else None
