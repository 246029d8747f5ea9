"""Where Meterline keeps its state: everything lives under one METERLINE_HOME folder."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parent


def _project_folder(name: str) -> Path:
    """A project folder (dbt, GX): in the checkout, else the copy shipped inside the wheel.

    `uv sync` installs the package editable, so the checkout's folders are used; `pip install .`
    ships them under `orchestration/_project/` (pyproject.toml), so `meterline` works from any
    working directory however it was installed.
    """
    checkout = REPO_ROOT / name
    return checkout if checkout.is_dir() else PACKAGE_DIR / "_project" / name


DBT_PROJECT_DIR = _project_folder("dbt_project")
GX_PROJECT_DIR = _project_folder("expectations") / "gx"
DEFAULT_HOME = Path("data")
# The memory DuckDB may use per connection (dbt's is set in dbt_project/profiles.yml from the same
# variable); past it DuckDB spills to disk, which keeps a run's peak memory flat as data grows.
DEFAULT_DUCKDB_MEMORY_LIMIT = "1536MB"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


def duckdb_memory_limit(share: int = 1) -> str:
    """The DuckDB `memory_limit` of one connection when `share` connections run at once."""
    limit = os.environ.get("METERLINE_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT)
    if share == 1:
        return limit
    size = _SIZE.match(limit)
    if not size:
        raise ValueError(f"METERLINE_DUCKDB_MEMORY_LIMIT={limit!r}: expected e.g. 1536MB or 2GiB")
    total = float(size.group(1)) * _UNITS[size.group(2).lower()]
    return f"{int(total / share) // 2**20}MiB"


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """`--home`, else `$METERLINE_HOME`, else `./data` (SPEC 8), as an absolute path."""
    chosen = home or os.environ.get("METERLINE_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class HomeLayout:
    """The folders of one METERLINE_HOME (SPEC 2, 6, 7)."""

    home: Path

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def bronze(self) -> Path:
        return self.home / "bronze"

    @property
    def warehouse(self) -> Path:
        """The write side of write-audit-publish: dbt builds here, checks read here."""
        return self.home / "warehouse" / "build.duckdb"

    @property
    def published(self) -> Path:
        return self.home / "published"

    @property
    def invoices(self) -> Path:
        return self.home / "invoices"

    @property
    def dbt_target(self) -> Path:
        return self.home / "warehouse" / "dbt_target"

    @property
    def logs(self) -> Path:
        return self.home / "logs"
