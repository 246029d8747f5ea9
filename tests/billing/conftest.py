"""Shared catalogs for the billing tests and the SPEC §6 invoice (files under `data/`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.billing.catalog import Catalog, parse_catalog

DATA = Path(__file__).with_name("data")


@pytest.fixture
def spec_catalog_yaml() -> str:
    """Text of the SPEC §3 example catalog."""
    return (DATA / "spec_catalog.yml").read_text(encoding="utf-8")


@pytest.fixture
def spec_catalog(spec_catalog_yaml: str) -> Catalog:
    """The SPEC §3 catalog: growth plan; acme on growth from 2026-01, ended 2027-01."""
    return parse_catalog(spec_catalog_yaml, "spec_catalog.yml")


@pytest.fixture
def basic_catalog_yaml() -> str:
    """Text of the basic lifecycle catalog."""
    return (DATA / "basic_catalog.yml").read_text(encoding="utf-8")


@pytest.fixture
def basic_catalog(basic_catalog_yaml: str) -> Catalog:
    """Basic plan: $100 fee, traces 1000 included then $0.001, api_call $0.01; acme from 2026-09."""
    return parse_catalog(basic_catalog_yaml, "basic_catalog.yml")


@pytest.fixture
def spec_invoice_json() -> str:
    """Text of the SPEC §6 example invoice, verbatim."""
    return (DATA / "spec_invoice.json").read_text(encoding="utf-8")
