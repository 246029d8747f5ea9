"""Publish (group `publish`): the write-audit-publish of the checked marts."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.publish.assets import published_marts


def definitions() -> dg.Definitions:
    return dg.Definitions(assets=[published_marts])
