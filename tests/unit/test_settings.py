"""DuckDB's memory bound: one value, split between connections that run at once."""

import pytest

from orchestration.core.settings import duckdb_memory_limit


def test_the_limit_is_split_between_connections_that_run_at_once(monkeypatch):
    monkeypatch.setenv("METERLINE_DUCKDB_MEMORY_LIMIT", "2GiB")
    assert duckdb_memory_limit() == "2GiB"
    assert duckdb_memory_limit(2) == "1024MiB"
    monkeypatch.setenv("METERLINE_DUCKDB_MEMORY_LIMIT", "1536MB")  # decimal megabytes
    assert duckdb_memory_limit(2) == "732MiB"  # 768,000,000 bytes


def test_a_limit_that_cannot_be_split_names_the_variable(monkeypatch):
    monkeypatch.setenv("METERLINE_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="METERLINE_DUCKDB_MEMORY_LIMIT"):
        duckdb_memory_limit(2)
