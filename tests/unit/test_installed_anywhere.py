"""`meterline` works however it was installed: the wheel ships the dbt and GX projects, and a
missing or stale dbt manifest is prepared on first use (issue 10)."""

import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.core.settings import DBT_PROJECT_DIR
from orchestration.defs.transform.assets import ManifestPreparer, _manifest_is_current

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_the_dbt_and_gx_projects_without_generated_files(tmp_path: Path):
    uv = [shutil.which("uv")] if shutil.which("uv") else ["python3", "-m", "uv"]  # as the Makefile
    subprocess.run(
        [*uv, "build", "--wheel", "-q", "-o", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("meterline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    project = "orchestration/_project/"
    assert project + "dbt_project/dbt_project.yml" in names
    assert project + "dbt_project/models/marts/fct_usage_records.sql" in names
    assert project + "expectations/gx/great_expectations.yml" in names
    assert "orchestration/billing/default_catalog.yml" in names
    generated = [n for n in names if "/target/" in n or "/logs/" in n or "uncommitted" in n]
    assert generated == []


def test_a_missing_or_stale_manifest_is_prepared_on_first_use(tmp_path: Path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    assert not _manifest_is_current(project)

    ManifestPreparer().prepare(project)
    assert project.manifest_path.exists()
    assert _manifest_is_current(project)

    # an edited model makes the manifest stale again
    model = copy / "models" / "marts" / "fct_usage_records.sql"
    later = time.time() + 60
    os.utime(model, (later, later))
    assert not _manifest_is_current(project)
