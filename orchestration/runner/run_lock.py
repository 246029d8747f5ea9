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
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

PID_TAG = "meterline/cli_pid"


# Homes whose lock this process holds, with how deep: a command takes the lock once around all
# its jobs, and each job takes it again without blocking on itself.
_held: dict[Path, int] = {}


@contextlib.contextmanager
def home_lock(home: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock of this home for the duration of the block.

    When another process holds it, `on_wait` is called once with who that is (pid and command,
    which the holder writes into the lock file), then the lock is waited for.
    """
    home = home.resolve()
    if _held.get(home):
        _held[home] += 1
        try:
            yield
        finally:
            _held[home] -= 1
        return
    lock_path = home / "warehouse" / ".meterline.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                handle.seek(0)
                holder = handle.read().strip() or "another meterline process"
                on_wait(holder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {shlex.join(sys.argv)}\n")
        handle.flush()
        _held[home] = 1
        try:
            yield
        finally:
            _held.pop(home, None)
            handle.seek(0)
            handle.truncate()
            handle.flush()
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
    # NOT_STARTED and STARTING too: a process killed while its run was being set up leaves it so
    in_flight = dg.RunsFilter(
        statuses=[
            dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED,
        ]
    )
    for run in instance.get_runs(filters=in_flight):
        pid = run.tags.get(PID_TAG)
        if pid is None or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"meterline process {pid} died during the run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(run.run_id)
    return recovered
