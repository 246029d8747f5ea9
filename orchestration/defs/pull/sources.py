"""`$METERLINE_HOME/sources.yml` (SPEC 2.7): the application databases `meterline pull` reads.

A file that breaks a rule raises `SourcesError`, whose message names the bad field, e.g.
`postgres[1].lookback: '10x' is not a duration like 10m, 2h or 1d`. No file means no sources.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

SOURCES_FILE = "sources.yml"

_NAME = re.compile(r"[a-z0-9_]+")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A SQL identifier, plain (folded to lower case by PostgreSQL) or double-quoted.
_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_TABLE = re.compile(rf"{_IDENT}(?:\.{_IDENT})?")
_LOOKBACK = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SourcesError(Exception):
    """A sources.yml that cannot be used; the message names the file and the bad field."""


def _matching(pattern: re.Pattern[str], expected: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {expected}")
        return value

    return AfterValidator(check)


def _lookback(value: object) -> timedelta:
    if isinstance(value, str) and (match := _LOOKBACK.fullmatch(value.strip())):
        return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"{value!r} is not a duration like 10m, 2h or 1d")


class PostgresSource(BaseModel):
    """One table or view of an application's PostgreSQL whose rows are one raw source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, _matching(_NAME, "made of a-z, 0-9 and _")]
    source: Literal["events", "usage_logs"]
    dsn_env: Annotated[str, _matching(_ENV_VAR, "an environment variable name")]
    table: Annotated[str, _matching(_TABLE, "a table name like public.usage_events")]
    # Matched exactly against the column name (JSON field names such as createdAt keep their case).
    cursor_column: Annotated[str, Field(min_length=1, max_length=63)]
    lookback: Annotated[timedelta, BeforeValidator(_lookback)]


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postgres: list[PostgresSource] = []

    @field_validator("postgres")
    @classmethod
    def _unique_names(cls, sources: list[PostgresSource]) -> list[PostgresSource]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"name {source.name!r} is used twice")
            seen.add(source.name)
        return sources


def _field_path(location: tuple[str | int, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required"
        elif item["type"] == "extra_forbidden":
            message = "is not a known field"
        where = _field_path(item["loc"])
        problems.append(f"{where}: {message}" if where else message)
    return problems


def sources_path(home: Path) -> Path:
    return home / SOURCES_FILE


def load_sources(home: Path) -> list[PostgresSource]:
    """The PostgreSQL sources of this home (none without a sources.yml); SourcesError if bad."""
    path = sources_path(home)
    if not path.exists():
        return []
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise SourcesError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if document is None:
        return []
    if not isinstance(document, dict):
        raise SourcesError(f"{path}: expected a mapping with a `postgres:` list")
    try:
        return SourcesFile.model_validate(document).postgres
    except ValidationError as err:
        raise SourcesError(f"{path}: " + "; ".join(_problems(err))) from None
