"""The meters of SPEC 2, read from their one definition: the `meters` and `event_meters` vars of
dbt_project.yml, which dbt's accepted_values tests read too."""

from __future__ import annotations

import yaml

from orchestration.core.settings import DBT_PROJECT_DIR


def _dbt_var(name: str) -> tuple[str, ...]:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return tuple(project["vars"][name])


METERS = _dbt_var("meters")
"""Every meter a usage record may carry."""
EVENT_METERS = _dbt_var("event_meters")
"""The meters an event may name in `event_type` (anything else is quarantined `unknown_meter`)."""
