"""SPEC 2 / 2.5 limits at ingestion: the hostile regression corpus (tests/fixtures/hostile) gets
the quarantine reason each case calls for, and what is accepted is read exactly."""

import gzip
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.bronze import ingest_deliveries

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
DAY = date(2026, 10, 3)


def expected_reasons() -> dict[tuple[str, int, int], str]:
    """(file, line, position) -> reason or 'accepted', from tests/fixtures/hostile/expected.json
    (a list gives the reasons of a line's items in order)."""
    table = {}
    for name, lines in json.loads((HOSTILE / "expected.json").read_text()).items():
        for line, reasons in lines.items():
            for position, reason in enumerate(reasons if isinstance(reasons, list) else [reasons]):
                table[(name, int(line), position)] = reason
    return table


def ingested_reasons(bronze: Path) -> dict[tuple[str, int, int], str]:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT source_file, line_number, item_position, reason "
        f"FROM read_parquet('{bronze}/quarantine/*/*.parquet') WHERE source IS NOT NULL"
    ).fetchall()
    for source in ("events", "usage_logs", "traces", "sessions"):
        rows += con.execute(
            f"SELECT source_file, line_number, item_position, 'accepted' "
            f"FROM read_parquet('{bronze}/{source}/*/*.parquet') WHERE source IS NOT NULL"
        ).fetchall()
    return {(f, line, pos): reason for f, line, pos, reason in rows}


@pytest.fixture(scope="module")
def hostile_bronze(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("hostile")
    shutil.copytree(HOSTILE / "raw", home / "raw")
    ingest_deliveries(home / "raw", home / "bronze", [DAY])
    return home / "bronze"


def test_every_hostile_case_gets_its_quarantine_reason(hostile_bronze: Path):
    assert ingested_reasons(hostile_bronze) == expected_reasons()


def accepted(bronze: Path, source: str, column: str, key: str) -> object:
    con = duckdb.connect()
    (value,) = con.execute(
        f"SELECT {column} FROM read_parquet('{bronze}/{source}/*/*.parquet') WHERE item_key = ?",
        [key],
    ).fetchone()
    return value


@pytest.mark.parametrize(
    ("source", "key", "column", "expected"),
    [
        # 123456.123456789012345678 rounded at 12 places (the 13th digit is 3: down); a double
        # would have kept only 123456.12345678901
        ("events", "hostile-6", "quantity", Decimal("123456.123456789012")),
        ("events", "hostile-7", "quantity", Decimal("0")),  # 1e-20 rounds to 0 at 12 places
        ("events", "hostile-8", "quantity", Decimal("0.000000000002")),  # 1.5e-12: half away
        ("events", "hostile-23", "quantity", Decimal("1000000000000000")),  # 10^15 is allowed
        # costCents 12.34567890123456789012 / 100 = 0.1234567890123456789012 -> 12 places
        ("usage_logs", "hr-4", "source_cost_usd", Decimal("0.123456789012")),
        ("sessions", "hop-3", "source_cost_usd", Decimal("0.123456789012")),
    ],
)
def test_accepted_numbers_are_exact_from_their_text(hostile_bronze, source, key, column, expected):
    assert accepted(hostile_bronze, source, column, key) == expected


def test_a_bom_is_ignored_and_tenant_ids_are_kept_byte_for_byte(hostile_bronze: Path):
    assert accepted(hostile_bronze, "events", "tenant_id", "hostile-100") == "hostile-acme"
    assert accepted(hostile_bronze, "events", "tenant_id", "hostile-20") == "\U0001f600" * 21


def test_a_bom_in_a_gzip_file_is_ignored_too(tmp_path: Path):
    folder = tmp_path / "raw" / "events" / DAY.isoformat()
    folder.mkdir(parents=True)
    line = '{"id":"g1","business_id":"acme","event_type":"api_call","quantity":1,"created_at":"2026-10-03T12:00:00Z"}\n'
    (folder / "bom.jsonl.gz").write_bytes(gzip.compress(b"\xef\xbb\xbf" + line.encode()))
    (audit,) = ingest_deliveries(tmp_path / "raw", tmp_path / "bronze", [DAY])
    assert (audit.items_read, audit.quarantined) == (1, 0)


def test_a_line_over_16_mib_is_malformed_json_and_the_next_line_still_counts(tmp_path: Path):
    folder = tmp_path / "raw" / "events" / DAY.isoformat()
    folder.mkdir(parents=True)
    ok = '{"id":"%s","business_id":"acme","event_type":"api_call","quantity":1,"created_at":"2026-10-03T12:00:00Z","pad":"%s"}'
    limit = 16 * 2**20
    just_fits = ok % ("fits", "x" * (limit - len(ok % ("fits", ""))))
    too_long = ok % ("long", "x" * (limit + 1 - len(ok % ("long", ""))))
    assert len(just_fits) == limit and len(too_long) == limit + 1
    (folder / "big.jsonl").write_text(
        just_fits + "\n" + too_long + "\n" + ok % ("after", "") + "\n"
    )
    (audit,) = ingest_deliveries(tmp_path / "raw", tmp_path / "bronze", [DAY])
    assert (audit.items_read, audit.quarantined) == (3, 1)
    reasons = ingested_reasons(tmp_path / "bronze")
    assert reasons == {
        ("events/2026-10-03/big.jsonl", 1, 0): "accepted",
        ("events/2026-10-03/big.jsonl", 2, 0): "malformed_json",
        ("events/2026-10-03/big.jsonl", 3, 0): "accepted",
    }
