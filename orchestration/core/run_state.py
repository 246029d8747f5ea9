"""What invoicing needs to know about the pipeline runs: whether the latest build failed a
blocking check, and whether the last run that started also published (SPEC 8).

This module alone reads and writes that state (`warehouse/CHECKS_FAILED.json`,
`warehouse/LAST_RUN.json`): transform (dbt tests), the reconciliation checks and publish (its
audit) record failures through `mark_checks_failed`; invoicing and the CLI's report read them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from orchestration.core.settings import HomeLayout


def _checks_failed_marker(layout: HomeLayout) -> Path:
    """Present while the latest build failed a blocking check: invoices refuse to run."""
    return layout.home / "warehouse" / "CHECKS_FAILED.json"


def _run_state_file(layout: HomeLayout) -> Path:
    """The last pipeline run and whether it published (`last_run`)."""
    return layout.home / "warehouse" / "LAST_RUN.json"


def mark_checks_failed(layout: HomeLayout, failures: list[dict]) -> None:
    """Record which blocking checks failed; `meterline invoice` refuses while this exists."""
    marker = _checks_failed_marker(layout)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        json.dumps({"failed_at": datetime.now(UTC).isoformat(), "failures": failures}, indent=2)
    )


def clear_checks_failed(layout: HomeLayout) -> None:
    """A run passed every check and published: invoicing may go on."""
    _checks_failed_marker(layout).unlink(missing_ok=True)


def checks_failed(layout: HomeLayout) -> list[dict] | None:
    """The failures of the latest build, or None when it passed."""
    marker = _checks_failed_marker(layout)
    return json.loads(marker.read_text())["failures"] if marker.exists() else None


# --- the last pipeline run: started, then published (SPEC 8) ---------------------------------
# `meterline invoice` trusts the published tables only when the last run that touched the
# warehouse also published it: a run that crashed, was killed or failed after it started leaves
# `started` behind, and invoicing refuses until a later run publishes.


def _write_run_state(layout: HomeLayout, state: dict) -> None:
    path = _run_state_file(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def mark_run_started(layout: HomeLayout, run_id: str) -> None:
    """A pipeline run is about to change bronze or the warehouse (called by each such step)."""
    current = last_run(layout)
    if current and current["run_id"] == run_id and current["status"] == "started":
        return
    _write_run_state(
        layout,
        {"run_id": run_id, "status": "started", "started_at": datetime.now(UTC).isoformat()},
    )


def mark_run_published(layout: HomeLayout, run_id: str) -> None:
    """The run built, checked and published everything it ingested."""
    state = last_run(layout) or {"run_id": run_id}
    state.update(run_id=run_id, status="published", published_at=datetime.now(UTC).isoformat())
    _write_run_state(layout, state)


def last_run(layout: HomeLayout) -> dict | None:
    """{"run_id", "status": "started" | "published", ...} of the last pipeline run, or None."""
    path = _run_state_file(layout)
    return json.loads(path.read_text()) if path.exists() else None


def invoicing_blocked_reason(layout: HomeLayout) -> str | None:
    """Why invoices may not be written now (None when the last run published everything)."""
    failures = checks_failed(layout)
    if failures:
        names = ", ".join(f["rule"] for f in failures)
        return (
            f"the latest pipeline run failed blocking checks ({names}); no invoice is written "
            "until `meterline run` passes every check"
        )
    state = last_run(layout)
    if state is None:
        return (
            "no `meterline run` has completed and published on this home yet; "
            "run `meterline run` first"
        )
    if state["status"] != "published":
        return (
            f"the last pipeline run {state['run_id']} (started {state['started_at']}) did not "
            "complete and publish (it crashed, was killed, failed or is still running); "
            "no invoice is written until `meterline run` succeeds"
        )
    return None
