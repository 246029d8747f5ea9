"""Tenant invoice file names by SPEC 6 (revised 2026-11-29): short, visible, inside the month
folder; final months keep the names they were written with; CSV cells carry no control bytes."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

import orchestration.billing.invoice_files as invoice_files
from orchestration.billing.catalog import parse_catalog
from orchestration.billing.invoice_files import invoice_file_stem
from orchestration.billing.lifecycle import issue_month


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def sha16(tenant_id: str) -> str:
    return hashlib.sha256(tenant_id.encode("utf-8")).hexdigest()[:16]


@pytest.mark.parametrize(
    ("tenant_id", "stem"),
    [
        (".hidden", "%2Ehidden"),
        ("..x", "%2E.x"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("a.b", "a.b"),
        # 246 ASCII letters: 246 bytes > 200 -> the first 180, '~', 16 hex digits (197 bytes)
        ("t" * 246, "t" * 180 + "~" + sha16("t" * 246)),
        # 28 CJK characters: 3 bytes each -> 9 encoded bytes each, 252 in all; 180 = 20 whole ones
        ("租" * 28, "%E7%A7%9F" * 20 + "~" + sha16("租" * 28)),
        # 21 emoji: 4 bytes each -> 12 encoded bytes, 252; 180 = 15 whole ones
        ("\U0001f600" * 21, "%F0%9F%98%80" * 15 + "~" + sha16("\U0001f600" * 21)),
        # 'a' + 28 CJK: byte 180 falls after '%E7%A7%9' (inside a %XX): cut before its '%'
        ("a" + "租" * 28, "a" + "%E7%A7%9F" * 19 + "%E7%A7" + "~" + sha16("a" + "租" * 28)),
        # exactly 200 bytes encoded: not cut
        ("x" * 200, "x" * 200),
    ],
)
def test_file_stems_are_visible_and_short(tenant_id, stem):
    assert invoice_file_stem(tenant_id) == stem
    assert len(stem) <= 200 and not stem.startswith(".")


BASIC_CATALOG = Path(__file__).with_name("data") / "basic_catalog.yml"


def catalog_for(*tenants: str):
    """The basic test catalog ($100 fee, api_call $0.01) with these tenants subscribed."""
    document = yaml.safe_load(BASIC_CATALOG.read_text(encoding="utf-8"))
    document["subscriptions"] = [
        {"tenant_id": t, "plan": "basic", "start": "2026-09-01"} for t in tenants
    ]
    return parse_catalog(yaml.safe_dump(document, allow_unicode=True))


HOSTILE_TENANTS = ("t" * 246, "租" * 28, "\U0001f600" * 21, ".hidden", "..")


def test_long_and_dotted_tenant_ids_are_invoiced_inside_the_folder(tmp_path: Path):
    home = tmp_path / "home"
    usage = {(t, "2026-09"): {"api_call": Decimal("3")} for t in HOSTILE_TENANTS}
    result = issue_month(
        home, "2026-09", at("2026-10-04T00:00:00Z"), catalog_for(*HOSTILE_TENANTS), usage
    )
    assert result.status == "final"
    folder = home / "invoices" / "2026-09"
    names = {p.name for p in folder.iterdir()}
    assert not [n for n in names if n.startswith(".")]
    assert max(len(n.encode()) for n in names) <= 205
    for tenant in HOSTILE_TENANTS:
        document = json.loads((folder / f"{invoice_file_stem(tenant)}.json").read_text())
        assert document["tenant_id"] == tenant
        assert document["usage"] == {"api_call": "3"}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {f["name"] for f in manifest["files"]} == names - {"manifest.json"}


def test_a_month_final_before_the_naming_rule_keeps_its_files(tmp_path: Path, monkeypatch):
    """A folder finalized under the old rule ('.hidden.json'): later runs neither rename nor
    rewrite it, and read its invoices back."""
    home = tmp_path / "home"
    usage = {(".hidden", "2026-09"): {"api_call": Decimal("3")}}
    catalog = catalog_for(".hidden")
    with monkeypatch.context() as mp:
        mp.setattr(invoice_files, "invoice_file_stem", invoice_files._legacy_file_stem)
        issue_month(home, "2026-09", at("2026-10-04T00:00:00Z"), catalog, usage)
    folder = home / "invoices" / "2026-09"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert ".hidden.json" in before
    again = issue_month(home, "2026-09", at("2026-10-05T00:00:00Z"), catalog, usage)
    assert again.status == "already_final"
    assert again.invoices[0].tenant_id == ".hidden"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_control_characters_never_reach_the_csv_files_raw(tmp_path: Path):
    """A tenant id with NUL / line break (ingestion quarantines those, SPEC 2.5; the writer is
    safe regardless): written %00 / %0A in summary.csv and unbilled.csv."""
    home = tmp_path / "home"
    billed, unbilled = "acme\x00x", "glob\nex"
    usage = {
        (billed, "2026-09"): {"api_call": Decimal("1")},
        (unbilled, "2026-09"): {"api_call": Decimal("2")},
    }
    issue_month(home, "2026-09", at("2026-09-20T00:00:00Z"), catalog_for(billed), usage)
    folder = home / "invoices" / "2026-09"
    for name in ("summary.csv", "unbilled.csv", f"{invoice_file_stem(billed)}.csv"):
        data = (folder / name).read_bytes()
        assert b"\x00" not in data and b"glob\nex" not in data, name
    with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
        assert [r["tenant_id"] for r in csv.DictReader(handle)] == ["acme%00x"]
    with open(folder / "unbilled.csv", newline="", encoding="utf-8") as handle:
        assert [r["tenant_id"] for r in csv.DictReader(handle)] == ["glob%0Aex"]
    assert os.path.exists(folder / "acme%00x.json")
    shutil.rmtree(home)
