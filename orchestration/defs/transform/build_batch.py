"""The batch of an incremental run (SPEC 9): the bronze files the warehouse is not built from yet.

Bronze is append-only and every ingested raw file has one commit marker under `bronze/files/`.
`warehouse/build_state.json` lists the markers of the last *published* build and the hash of the
provider prices it used. A run builds the markers not listed yet (its batch, written to
`warehouse/batch_files.parquet` for dbt), and the list is extended only once the run has passed
every check and published: a run that failed or crashed leaves the batch to the next run, which
builds it again (the incremental models recompute whole units, so that is harmless).

A full refresh (asked for, a first build, a warehouse built by another model version, or after a
build that failed a check) rebuilds every model from all of bronze; changed provider prices rebuild
the models that use them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from orchestration.core.run_state import checks_failed
from orchestration.core.settings import HomeLayout
from orchestration.core.sql_text import sql_literal
from orchestration.defs.ingest.bronze import BRONZE_TABLES
from orchestration.defs.ingest.catalog_prices import prices_sha

# The published tables placed in months by a usage day or month (macros/incremental.sql windows).
_MONTHLY_PUBLISHED = (
    "fct_usage_records",
    "fct_trace_sessions",
    "tenant_daily_usage",
    "tenant_monthly_usage",
    "agent_daily_stats",
    "team_daily_stats",
    "platform_daily_stats",
    "platform_daily_cost",
    "feature_monthly_usage",
)
# A run tag asking for `meterline run --full-refresh` (SPEC 8).
FULL_REFRESH_TAG = "meterline/full_refresh"
# Bump when an incremental model's stored shape or meaning changes: the next run rebuilds in full.
STATE_VERSION = 1
_BATCH_COLUMNS = "source, source_file AS file, delivery_date, lines_read, items_read, quarantined"


@dataclass(frozen=True)
class BuildPlan:
    full_refresh: str | None
    """Why every model is rebuilt from all of bronze, or None for an incremental run."""
    reprice: bool
    """The provider prices changed since the last build: the models using them are rebuilt."""
    batch: tuple[str, ...]
    """Markers (paths under bronze/files/) of the files not built yet."""
    prices_sha: str

    @property
    def nothing_to_do(self) -> bool:
        return self.full_refresh is None and not self.reprice and not self.batch

    def as_json(self) -> dict:
        return {
            "full_refresh": self.full_refresh,
            "reprice": self.reprice,
            "batch": list(self.batch),
            "prices_sha": self.prices_sha,
        }


def _state_file(layout: HomeLayout) -> Path:
    return layout.warehouse.parent / "build_state.json"


def _pending_file(layout: HomeLayout) -> Path:
    return layout.warehouse.parent / "build_pending.json"


def batch_file(layout: HomeLayout) -> Path:
    return layout.warehouse.parent / "batch_files.parquet"


def batch_folder(layout: HomeLayout) -> Path:
    """`warehouse/batch/<table>/`: hard links to the batch's bronze files, which an incremental
    run's staging models read (macros/incremental.sql, `bronze_rows`)."""
    return layout.warehouse.parent / "batch"


def _link_batch(layout: HomeLayout, plan: BuildPlan) -> None:
    """Link each bronze table's files of the batch, and its schema file (every column, even when
    the batch is empty), into the batch folder. A full refresh reads bronze itself: no links."""
    folder = batch_folder(layout)
    shutil.rmtree(folder, ignore_errors=True)
    if plan.full_refresh:
        return
    for table in BRONZE_TABLES:
        target = folder / table
        target.mkdir(parents=True)
        sources = [layout.bronze / table / "_schema" / "empty.parquet"]
        sources += [layout.bronze / table / marker for marker in plan.batch]
        for source in sources:
            if source.exists():  # a file without items of this table has no file here
                _link(source, target / f"{source.parent.name}__{source.name}")


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy reads the same
        shutil.copyfile(source, target)


def _markers(layout: HomeLayout) -> list[str]:
    root = layout.bronze / "files"
    if not root.is_dir():
        return []
    return sorted(
        f"{day.name}/{entry.name}"
        for day in os.scandir(root)
        if day.is_dir()
        for entry in os.scandir(day.path)
        if entry.name.endswith(".parquet")
    )


def _read_state(layout: HomeLayout) -> dict | None:
    path = _state_file(layout)
    return json.loads(path.read_text()) if path.exists() else None


def plan_build(layout: HomeLayout, full_refresh: bool = False, engine: str = "duckdb") -> BuildPlan:
    """What the next dbt build must do, from bronze, the prices and the last published build."""
    markers = _markers(layout)
    sha = prices_sha(layout.bronze)
    state = _read_state(layout)
    reason = None
    if full_refresh:
        reason = "asked for (--full-refresh)"
    elif engine != "duckdb":
        reason = f"the {engine} engine builds in full (no delete+insert on plain Parquet)"
    elif state is None or not layout.warehouse.exists():
        reason = "first build of this warehouse"
    elif state.get("version") != STATE_VERSION:
        reason = "the warehouse was built by another version of the models"
    elif checks_failed(layout):
        # what made a check fail may lie anywhere in the warehouse: rebuild it from bronze
        reason = "the last build failed a blocking check"
    if reason is not None:
        return BuildPlan(reason, False, tuple(markers), sha)
    built = set(state["built"])
    batch = tuple(m for m in markers if m not in built)
    return BuildPlan(None, sha != state["prices_sha"], batch, sha)


def write_batch(layout: HomeLayout, plan: BuildPlan) -> None:
    """`warehouse/batch_files.parquet` for dbt, and the plan for `commit_build` after publishing."""
    target = batch_file(layout)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    markers = [layout.bronze / "files" / m for m in plan.batch]
    with duckdb.connect() as con:
        if markers:
            paths = ", ".join(sql_literal(m) for m in markers)
            query = f"SELECT {_BATCH_COLUMNS} FROM read_parquet([{paths}])"
        else:
            query = (
                "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS file, NULL::DATE AS delivery_date,"
                " NULL::BIGINT AS lines_read, NULL::BIGINT AS items_read,"
                " NULL::BIGINT AS quarantined WHERE false"
            )
        con.execute(f"COPY ({query}) TO {sql_literal(tmp)} (FORMAT parquet)")
    os.replace(tmp, target)
    _link_batch(layout, plan)
    _write_json(_pending_file(layout), plan.as_json())


def checked_windows(layout: HomeLayout) -> bool:
    """Whether the build awaiting publication was incremental: its checks may look at the windows
    it replaced only. A full refresh or new prices changed everything: check everything."""
    pending_path = _pending_file(layout)
    if not pending_path.exists():
        return False
    pending = json.loads(pending_path.read_text())
    return not pending["full_refresh"] and not pending["reprice"]


def changed_months(layout: HomeLayout, touched_days: list[date]) -> dict[str, set[date]] | None:
    """What the build awaiting publication changed, per published table: the months holding a
    touched day (day- and month-grained tables), the delivery months of the batch (quarantine);
    the small unpartitioned tables are always rewritten. None: a full refresh or new prices,
    everything is republished."""
    if not checked_windows(layout):
        return None
    months = {day.replace(day=1) for day in touched_days}
    with duckdb.connect() as con:
        deliveries = con.execute(
            "SELECT DISTINCT delivery_date FROM read_parquet(?) WHERE delivery_date IS NOT NULL",
            [str(batch_file(layout))],
        ).fetchall()
    changed: dict[str, set[date]] = {table: set(months) for table in _MONTHLY_PUBLISHED}
    changed["quarantine"] = {day.replace(day=1) for (day,) in deliveries}
    changed.update(ingest_audit=set(), unpriced_usage=set())
    return changed


def commit_build(layout: HomeLayout) -> None:
    """The pending batch is published: the next run does not build it again."""
    pending_path = _pending_file(layout)
    if not pending_path.exists():
        return
    pending = json.loads(pending_path.read_text())
    state = _read_state(layout)
    built = set() if pending["full_refresh"] or state is None else set(state["built"])
    built.update(pending["batch"])
    _write_json(
        _state_file(layout),
        {"version": STATE_VERSION, "prices_sha": pending["prices_sha"], "built": sorted(built)},
    )
    pending_path.unlink()


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
