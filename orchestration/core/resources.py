"""The one Dagster resource every Meterline asset uses: where its home is and which catalog applies."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.core.settings import HomeLayout


class MeterlineResource(dg.ConfigurableResource):
    """METERLINE_HOME and the catalog path (None = `$METERLINE_HOME/catalog.yml`, else the default)."""

    home: str
    catalog: str | None = None

    @property
    def layout(self) -> HomeLayout:
        return HomeLayout(Path(self.home))

    def load_catalog(self):
        """The validated catalog (SPEC 3); raises CatalogError naming the bad field."""
        from orchestration.billing.catalog import load_catalog

        return load_catalog(Path(self.catalog) if self.catalog else None, Path(self.home))
