"""`meterline simulate` (SPEC 8) through the installed command and a real Dagster run: the
simulated invoices and diff.csv, worked out by hand, and nothing else on disk changes."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from helpers import CATALOG_METERS

from orchestration.billing.catalog import parse_catalog
from orchestration.billing.invoice_records import record_invoice_records
from orchestration.billing.lifecycle import issue_month
from orchestration.defs.invoicing.invoice_tables import invoice_tables
from orchestration.defs.publish.publish import publish_marts

METERLINE_BIN = Path(sys.executable).with_name("meterline")
CURRENT = f"""\
currency: USD
grace_period_days: 3
{CATALOG_METERS}plans:
  basic:
    name: Basic
    monthly_fee: "100.00"
    prices:
      api_call: {{included: 0, unit_price: "0.01"}}
subscriptions:
  - {{tenant_id: acme, plan: basic, start: 2026-01-01}}
"""
# a dearer price list that also signs up beta
OTHER = CURRENT.replace('"100.00"', '"120.00"').replace('"0.01"', '"0.02"') + (
    "  - {tenant_id: beta, plan: basic, start: 2026-10-01}\n"
)


def tree_digest(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file (and the target of every symlink) under `folders`."""
    digest = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                digest[str(path)] = "-> " + os.readlink(path)
            elif path.is_file():
                digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture
def invoiced_home(tmp_path: Path) -> Path:
    """October published (acme 1000 api calls, beta 50) and invoiced as a draft."""
    home = tmp_path / "home"
    (home / "catalog.yml").parent.mkdir(parents=True)
    (home / "catalog.yml").write_text(CURRENT, encoding="utf-8")
    warehouse = home / "warehouse" / "build.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE fct_usage_records AS SELECT * FROM (VALUES "
        "('events:a:api_call', 'events', 'acme', 'api_call', CAST(1000 AS DECIMAL(38, 12)), "
        "TIMESTAMPTZ '2026-10-05 10:00:00+00', DATE '2026-10-05', CAST(0 AS DECIMAL(38, 12)), "
        "'events/2026-10-05/a.jsonl', 1), "
        "('events:b:api_call', 'events', 'beta', 'api_call', 50, "
        "TIMESTAMPTZ '2026-10-06 10:00:00+00', DATE '2026-10-06', 0, "
        "'events/2026-10-06/a.jsonl', 1)) AS t(record_key, source, tenant_id, meter, quantity, "
        "event_time, delivery_date, cost_usd, raw_file, raw_line)"
    )
    con.execute(
        "CREATE TABLE tenant_monthly_usage AS SELECT DATE '2026-10-01' AS usage_month, "
        "tenant_id, meter, quantity, 1 AS record_count FROM fct_usage_records"
    )
    con.close()
    tables = ("fct_usage_records", "tenant_monthly_usage")
    publish_marts(warehouse, home / "published", invoice_tables(home), tables=tables)
    marts = (home / "published" / "marts.duckdb").resolve()
    usage = {("acme", "2026-10"): {"api_call": 1000}, ("beta", "2026-10"): {"api_call": 50}}
    issue_month(
        home,
        "2026-10",
        datetime(2026, 10, 20, tzinfo=UTC),
        parse_catalog(CURRENT),
        usage,
        lambda invoices, final: record_invoice_records(home, "2026-10", invoices, final, marts),
    )
    return home


def meterline(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "METERLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.run(
        [str(METERLINE_BIN), *args], env=env, capture_output=True, text=True, check=False
    )


def test_simulate_writes_the_other_invoices_and_the_difference_only(
    invoiced_home: Path, tmp_path: Path
) -> None:
    other = tmp_path / "dearer-2027.yml"
    other.write_text(OTHER, encoding="utf-8")
    watched = [invoiced_home / name for name in ("invoices", "state", "published")]
    before = tree_digest(*watched)

    result = meterline(
        invoiced_home, "simulate", "--month", "2026-10", "--with", str(other),
        "--now", "2026-11-02T00:00:00Z",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert tree_digest(*watched) == before
    folder = invoiced_home / "simulations" / "2026-10" / "dearer-2027"
    assert sorted(p.name for p in folder.iterdir()) == ["acme.json", "beta.json", "diff.csv"]
    with open(folder / "diff.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # current: acme 100.00 + 1000 x 0.01 = 110.00, beta has no plan (not invoiced);
    # other: acme 120.00 + 1000 x 0.02 = 140.00, beta 120.00 + 50 x 0.02 = 121.00
    assert rows == [
        {"tenant_id": "acme", "plan": "basic", "total": "110.00", "simulated_plan": "basic",
         "simulated_total": "140.00", "difference": "30.00"},
        {"tenant_id": "beta", "plan": "", "total": "", "simulated_plan": "basic",
         "simulated_total": "121.00", "difference": "121.00"},
    ]  # fmt: skip
    acme = json.loads((folder / "acme.json").read_text())
    assert (acme["status"], acme["invoice_number"], acme["total"]) == ("simulated", None, "140.00")
    assert [line["type"] for line in acme["lines"]] == ["fee", "usage"]


def test_a_bad_other_catalog_exits_2_and_writes_nothing(invoiced_home: Path, tmp_path: Path):
    other = tmp_path / "broken.yml"
    other.write_text(OTHER.replace('unit_price: "0.02"', 'unit_price: "-1"'), encoding="utf-8")

    result = meterline(invoiced_home, "simulate", "--month", "2026-10", "--with", str(other))

    assert result.returncode == 2
    assert "broken.yml" in result.stderr and "Traceback" not in result.stderr
    assert not (invoiced_home / "simulations").exists()
