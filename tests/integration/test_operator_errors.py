"""SPEC 8 (revised): expected failures print one line naming the cause, never a traceback; a
command waiting for another on the same home says so and for whom; runs of dead processes are
marked failed whatever state they died in; a catalog over 10 MB is rejected before parsing."""

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from helpers import meterline

import orchestration.generate as generate_package
import orchestration.runner.execute as execute_module
from orchestration.runner.run_lock import PID_TAG, recover_dead_runs


def test_a_catalog_over_10_mb_is_rejected_before_parsing_naming_its_size(tmp_path: Path):
    catalog = tmp_path / "huge.yml"
    # 10,000,001 bytes of a YAML comment: valid YAML, but parsing it is not even attempted
    catalog.write_bytes(b"#" + b"x" * 9_999_999 + b"\n")
    started = time.monotonic()
    result = meterline(tmp_path / "home", "run", "--catalog", str(catalog))
    assert result.exit_code == 2, result.output
    assert "10,000,001 bytes, over the limit of 10,000,000 bytes (10 MB)" in result.output
    assert time.monotonic() - started < 10


def test_a_full_disk_outside_any_run_is_one_line(tmp_path: Path, monkeypatch):
    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path / "dagster.yaml"))

    monkeypatch.setattr(execute_module, "ensure_dagster_home", full)
    result = meterline(tmp_path / "home", "generate", "--month", "2026-10", "--events", "1000")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"meterline: no space left on the device: {tmp_path / 'home' / 'dagster' / 'dagster.yaml'}"
    ]


def test_a_read_only_folder_in_a_step_is_one_line_naming_the_step(tmp_path: Path, monkeypatch):
    def read_only(home, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(home / "raw"))

    monkeypatch.setattr(generate_package, "generate_month", read_only)
    result = meterline(tmp_path / "home", "generate", "--month", "2026-10", "--events", "1000")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error in ") and "Read-only file system" in line, line


def test_a_command_waiting_for_another_says_for_whom(tmp_path: Path):
    home = tmp_path / "home"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from orchestration.runner.run_lock import home_lock; "
            "lock = home_lock(Path(sys.argv[1])); lock.__enter__(); "
            "print('locked', flush=True); time.sleep(4)",
            str(home),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = meterline(home, "invoice", "--month", "2026-10")
    finally:
        holder.wait()
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(
        f"waiting for another meterline command on {home} (pid {holder.pid}:"
    )
    # it waited, then decided on what it found: nothing ever published here
    assert "no `meterline run` has completed" in lines[-1]
    assert result.exit_code == 1


@pytest.mark.parametrize(
    "status",
    [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
)
def test_runs_of_a_dead_process_are_marked_failed_in_any_start_up_state(tmp_path: Path, status):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = str(os.getpid())  # this process: never its own runs
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        orphan = instance.add_run(
            dg.DagsterRun(job_name="meterline_run", status=status, tags={PID_TAG: str(dead.pid)})
        )
        ours = instance.add_run(
            dg.DagsterRun(job_name="meterline_run", status=status, tags={PID_TAG: alive})
        )
        assert recover_dead_runs(instance) == [orphan.run_id]
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(ours.run_id).status == status
