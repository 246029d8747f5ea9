"""One `meterline` command at a time per METERLINE_HOME, and no run left wedged by a dead one.

An OS file lock serialises commands (the OS releases it when a process dies, however it dies).
Runs started by a command that has since died (SIGKILL, out of memory) stay STARTED in Dagster and
keep their `duckdb_writer` pool slot; while holding the lock, such runs are marked failed and
their slots freed, so the next command is never blocked behind a dead run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

PID_TAG = "meterline/cli_pid"


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold the exclusive lock of this home for the duration of the block."""
    lock_path = home / "warehouse" / ".meterline.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs of dead `meterline` processes failed and free their pool slots."""
    recovered = []
    in_flight = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    for run in instance.get_runs(filters=in_flight):
        pid = run.tags.get(PID_TAG)
        if pid is None or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"meterline process {pid} died during the run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(run.run_id)
    return recovered
