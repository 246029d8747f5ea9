"""Long commands show progress on a terminal (the step running, files ingested of how many,
elapsed time) and stay quiet in logs and pipes (issue 10)."""

import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

# two whole `meterline run`s in a pseudo-terminal (make test-slow)
pytestmark = pytest.mark.slow

METERLINE = [sys.executable, "-m", "orchestration.cli"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return the exit code and what it drew."""
    leader, follower = os.openpty()
    process = subprocess.Popen(args, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process exits
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait()
    os.close(leader)
    return process.returncode, ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_run_draws_progress_on_a_terminal_and_nothing_in_a_pipe(sample_home: Path):
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "160", "DAGSTER_HOME": str(sample_home / "d")}
    code, screen = run_on_terminal([*METERLINE, "run", "--home", str(sample_home)], env)
    assert code == 0, screen
    # the status line names the job and a step, counts the four raw files, shows elapsed time
    assert "meterline_run: " in screen
    assert re.search(r"\[\d/4 raw files ingested\]", screen)
    assert re.search(r"\d:\d\d:\d\d", screen)

    # the same kind of status line is never written into a pipe (a log, CI, a cron mail)
    other = sample_home / "other"
    generate = ["generate", "--month", "2026-10", "--events", "1000", "--home", str(other)]
    piped = subprocess.run([*METERLINE, *generate], capture_output=True, text=True, env=env)
    assert piped.returncode == 0, piped.stderr
    assert "generate_sample_month" not in piped.stderr + piped.stdout
    assert piped.stdout.strip() == f"raw deliveries written under {other / 'raw'}"
