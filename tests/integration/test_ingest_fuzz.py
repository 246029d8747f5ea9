"""Fuzzing ingestion (SPEC 2, 2.5): arbitrary bytes and mutated lines of every source never stop
a run, every item is accounted for, and nothing accepted breaks SPEC 2's rules. One seeded
hostile delivery (with the regression corpus) also goes through dbt, the checks and invoicing."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from fuzz_lines import SOURCES, hostile_file
from helpers import meterline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.billing.invoice_files import invoice_file_stem
from orchestration.defs.ingest.bronze import ingest_deliveries

# fuzz: Hypothesis examples, one ingestion (and a dbt run) each (make test-slow)
pytestmark = pytest.mark.slow

DAY = date(2026, 10, 3)
MAX_QUANTITY = 10**15
# (time columns, quantity columns) of each source's accepted items in bronze
COLUMNS = {
    "events": (["event_time"], ["quantity", "source_cost_usd"]),
    "usage_logs": (
        ["event_time"],
        ["input_tokens", "output_tokens", "tool_calls", "source_cost_usd"],
    ),
    "traces": (["start_time"], ["input_tokens", "output_tokens", "source_cost_usd"]),
    "sessions": (["event_time"], ["quantity", "source_cost_usd"]),
}


def usable_tenant(tenant: str) -> bool:
    """SPEC 2.5: not only whitespace, no control character, at most 256 UTF-8 bytes."""
    return (
        bool(tenant.strip() and tenant.strip("\u3000\u00a0\u2000\u2001\u2002\u2003\u2028\u2029"))
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in tenant)
        and len(tenant.encode("utf-8")) <= 256
    )


def check_bronze(bronze: Path, audits) -> None:
    con = duckdb.connect()
    for audit in audits:
        accepted = con.execute(
            f"SELECT count(*) FROM read_parquet('{bronze}/{audit.source}/*/*.parquet') "
            "WHERE source_file = ?",
            [audit.file],
        ).fetchone()[0]
        quarantined = con.execute(
            f"SELECT count(*) FROM read_parquet('{bronze}/quarantine/*/*.parquet') "
            "WHERE source_file = ?",
            [audit.file],
        ).fetchone()[0]
        assert (audit.items_read, audit.quarantined) == (accepted + quarantined, quarantined)
    earliest = datetime(2000, 1, 1, tzinfo=UTC)
    future = datetime.combine(DAY + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    for source, (times, quantities) in COLUMNS.items():
        cursor = con.execute(f"SELECT * FROM read_parquet('{bronze}/{source}/*/*.parquet')")
        columns = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            item = dict(zip(columns, row, strict=True))
            if item["source"] is None:
                continue  # the empty schema file
            assert usable_tenant(item["tenant_id"]), item
            for column in times:
                assert earliest <= item[column] < future, item
            for column in quantities:
                value = item[column]
                assert value is None or 0 <= value <= MAX_QUANTITY, (column, item)
            if source == "traces" and item["end_time"] is not None:
                assert item["end_time"] >= item["start_time"], item


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rng=st.randoms(use_true_random=False), lines=st.integers(1, 8), gz=st.booleans())
def test_hostile_files_are_ingested_with_every_item_accounted_for(rng, lines, gz):
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        for source in SOURCES:
            folder = raw / source / DAY.isoformat()
            folder.mkdir(parents=True)
            data = hostile_file(rng, source, lines)
            if gz:
                (folder / "fuzz.jsonl.gz").write_bytes(gzip.compress(data))
            else:
                (folder / "fuzz.jsonl").write_bytes(data)
        audits = ingest_deliveries(raw, Path(tmp) / "bronze", [DAY])
        assert len(audits) == len(SOURCES)
        check_bronze(Path(tmp) / "bronze", audits)


@given(data=st.binary(max_size=2000))
@settings(max_examples=15, deadline=None)
def test_arbitrary_bytes_in_every_source_are_quarantined_not_fatal(data):
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        for source in SOURCES:
            folder = raw / source / DAY.isoformat()
            folder.mkdir(parents=True)
            (folder / "bytes.jsonl").write_bytes(data)
        audits = ingest_deliveries(raw, Path(tmp) / "bronze", [DAY])
        check_bronze(Path(tmp) / "bronze", audits)


HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"


def test_a_hostile_delivery_runs_checks_publishes_and_invoices(tmp_path: Path):
    home = tmp_path / "home"
    shutil.copytree(HOSTILE / "raw", home / "raw")
    rng = random.Random(11)
    for source in SOURCES:
        folder = home / "raw" / source / DAY.isoformat()
        (folder / "fuzz.jsonl").write_bytes(hostile_file(rng, source, 300))
    outside_before = sorted(p.name for p in tmp_path.iterdir())

    result = meterline(home, "run")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)
    audit = con.execute(
        "SELECT file, items_read, accepted, duplicates, conflicts, quarantined FROM ingest_audit"
    ).fetchall()
    con.close()
    assert len(audit) == 9  # 4 hostile + 1 BOM + 4 fuzz files
    for file, items, accepted, duplicates, conflicts, quarantined in audit:
        assert items == accepted + duplicates + conflicts + quarantined, file

    result = meterline(home, "invoice", "--month", "2026-10", "--now", "2026-11-10T00:00:00Z")
    assert result.exit_code == 0, result.output
    folder = home / "invoices" / "2026-10"
    names = {p.name for p in folder.iterdir()}
    # the hostile tenants of the corpus are invoiced (default plan) under SPEC 6 names
    for tenant in (".hidden", "..", "t" * 246, "租" * 28, "\U0001f600" * 21):
        assert f"{invoice_file_stem(tenant)}.json" in names, tenant
        document = json.loads((folder / f"{invoice_file_stem(tenant)}.json").read_text())
        assert document["tenant_id"] == tenant and document["status"] == "final"
    assert not [n for n in names if n.startswith(".") or len(n.encode()) > 255]
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before  # nothing outside home
