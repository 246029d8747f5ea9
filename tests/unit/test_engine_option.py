"""`meterline run --engine`: the choice is checked before anything runs (issue 16)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from orchestration import cli


def test_engine_spark_without_the_spark_extra_exits_2_in_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cli, "_spark_installed", lambda: False)
    result = CliRunner().invoke(cli.main, ["run", "--home", str(tmp_path), "--engine", "spark"])
    assert result.exit_code == 2
    assert "uv sync --extra spark" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "warehouse").exists()  # nothing ran


def test_an_unknown_engine_is_a_bad_argument(tmp_path: Path):
    result = CliRunner().invoke(cli.main, ["run", "--home", str(tmp_path), "--engine", "trino"])
    assert result.exit_code == 2
    assert "'trino' is not one of 'duckdb', 'spark'" in result.output
