"""Helpers shared by tests in several folders (importable as `helpers`: pytest puts tests/ on
sys.path for its conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orchestration.cli import main

# The `meters:` section of the test catalogs: the meters they price, with their units (SPEC 3).
CATALOG_METERS = """\
meters:
  traces:            {unit: trace}
  llm_input_tokens:  {unit: token}
  llm_output_tokens: {unit: token}
  tool_calls:        {unit: call}
  api_call:          {unit: call}
  voice_minute:      {unit: minute}
  ai_query:          {unit: query}
  storage_mb:        {unit: MB}
"""


def meterline(home: Path, *args: str) -> Result:
    """`meterline <args> --home <home>` in this process, with the home's own Dagster instance;
    the environment a run sets for dbt (DBT_LOG_PATH) is undone after."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("DBT_LOG_PATH", raising=False)
        return CliRunner().invoke(main, [*args, "--home", str(home)])
