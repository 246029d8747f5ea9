"""A real PostgreSQL server for the pull tests, started once per session (see postgres_server)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from .postgres_server import PostgresServer

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_db(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database; its connection string is in $APP_DATABASE_URL. Returns its name."""
    name = f"app_{next(_databases)}"
    monkeypatch.setenv("APP_DATABASE_URL", pg_server.create_database(name))
    return name


@pytest.fixture
def pull_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("METERLINE_HOME", raising=False)
    return home
