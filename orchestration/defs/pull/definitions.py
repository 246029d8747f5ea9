"""Pull (group `pull`): one asset per PostgreSQL source of sources.yml, its job and schedule."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.pull.assets import pull_definitions
from orchestration.defs.pull.sources import PostgresSource


def definitions(sources: list[PostgresSource]) -> dg.Definitions:
    pulls = pull_definitions(sources)
    return dg.Definitions(assets=pulls["assets"], jobs=pulls["jobs"], schedules=pulls["schedules"])
