"""What a long `meterline` command shows on a terminal: the step running, raw files ingested of
how many, and the elapsed time. Nothing is shown when output goes to a log or a pipe."""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

_STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}
_POLL_SECONDS = 0.5


def _committed_files(bronze: Path) -> int:
    """Raw files whose ingestion committed (bronze writes one marker per raw file, last)."""
    folder = bronze / "files"
    return sum(1 for _ in folder.glob("*/*.parquet")) if folder.is_dir() else 0


class RunProgress:
    """A live status line for one in-process Dagster run, drawn from its event log.

    It reads the run's events and the bronze folder on a thread of its own, so the pipeline code
    knows nothing of it.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        title: str,
        bronze: Path,
        files_to_ingest: int = 0,
    ):
        self._instance = instance
        self._run_id = run_id
        self._title = title
        self._bronze = bronze
        self._files_total = files_to_ingest
        self._files_before = _committed_files(bronze) if files_to_ingest else 0
        self._stop = threading.Event()
        self._console = Console(stderr=True)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunProgress:
        if self._console.is_terminal:
            self._thread = threading.Thread(target=self._draw, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _current_step(self) -> str:
        running: list[str] = []
        for entry in self._instance.all_logs(self._run_id, of_type=_STEP_EVENTS):
            step = entry.step_key or ""
            if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                running.append(step)
            elif step in running:
                running.remove(step)
        return ", ".join(running) or "starting"

    def _describe(self) -> str:
        text = f"{self._title}: {self._current_step()}"
        if self._files_total:
            done = min(_committed_files(self._bronze) - self._files_before, self._files_total)
            text += f"  [{done}/{self._files_total} raw files ingested]"
        return text

    def _draw(self) -> None:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=self._console, transient=True) as progress:
            task = progress.add_task(self._title)
            while not self._stop.wait(_POLL_SECONDS):
                try:
                    progress.update(task, description=self._describe())
                except Exception:  # noqa: BLE001 - a status line must never fail a run
                    continue
