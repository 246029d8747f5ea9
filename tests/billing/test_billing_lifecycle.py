"""Invoice lifecycle (SPEC §5) and files (SPEC §6). Every expected number is worked by hand.

The basic plan (data/basic_catalog.yml): fee 100.00; traces 1000 included then 0.001 each;
api_call 0.01 each; voice_minute not priced; acme subscribed from 2026-09; grace 3 days.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration.billing import lifecycle
from orchestration.billing.catalog import Catalog, parse_catalog
from orchestration.billing.invoice_files import (
    LINE_COLUMNS,
    invoice_file_stem,
    invoice_from_json,
    invoice_json,
    invoice_line_rows,
)
from orchestration.billing.lifecycle import IssueResult

D = Decimal


def issue_month(*args: Any) -> IssueResult:
    """`lifecycle.issue_month` with the result's invoices as their SPEC 6 JSON objects, the
    strings these tests check."""
    result = lifecycle.issue_month(*args)
    return dataclasses.replace(result, invoices=[invoice_json(i) for i in result.invoices])


def money_check(document: dict[str, Any]) -> list[str]:
    """`lifecycle.money_check` of the invoice whose SPEC 6 JSON object is `document`."""
    return lifecycle.money_check(invoice_from_json(document))


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def catalog_with(basic_catalog_yaml: str, **changes: Any) -> Catalog:
    document = yaml.safe_load(basic_catalog_yaml) | changes
    return parse_catalog(yaml.safe_dump(document, allow_unicode=True))


def subscriptions(*tenants: str, start: str = "2026-09-01") -> list[dict[str, Any]]:
    return [{"tenant_id": t, "plan": "basic", "start": start} for t in tenants]


def adjustment_lines(invoice: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            line["adjusts_period"],
            line["meter"],
            line["adjusts_invoice"],
            line["quantity"],
            line["amount"],
        )
        for line in invoice["lines"]
        if line["type"] == "adjustment"
    ]


def test_three_months_with_late_usage(tmp_path, basic_catalog):
    home, catalog = tmp_path, basic_catalog
    usage: dict[tuple[str, str], dict[str, Decimal]] = {
        ("acme", "2026-09"): {"traces": D(1500), "api_call": D(200)}
    }
    september, october = tmp_path / "invoices/2026-09", tmp_path / "invoices/2026-10"

    # September, during the month: a draft. 100.00 + (1500-1000) x 0.001 + 200 x 0.01
    # = 100.00 + 0.50 + 2.00 = 102.50
    draft = issue_month(home, "2026-09", at("2026-09-20T00:00:00Z"), catalog, usage)
    assert draft.status == "draft"
    assert [(i["invoice_number"], i["status"], i["total"]) for i in draft.invoices] == [
        (None, "draft", "102.50")
    ]
    assert csv_rows(september / "summary.csv")[0]["invoice_number"] == ""

    # period end 2026-10-01 + 3 days grace = 2026-10-04T00:00Z: one second before is a draft
    last_draft = issue_month(home, "2026-09", at("2026-10-03T23:59:59Z"), catalog, usage)
    assert last_draft.status == "draft"

    final = issue_month(home, "2026-09", at("2026-10-04T00:00:00Z"), catalog, usage)
    assert final.status == "final"
    assert [(i["invoice_number"], i["status"], i["total"]) for i in final.invoices] == [
        ("INV-202609-0001", "final", "102.50")
    ]
    september_files = folder_hashes(september)

    # late data for September (+300 traces, a new unpriced meter) and October's own usage
    usage[("acme", "2026-09")] = {"traces": D(1800), "api_call": D(200), "voice_minute": D(5)}
    usage[("acme", "2026-10")] = {"traces": D(800)}
    again = issue_month(home, "2026-09", at("2026-10-10T00:00:00Z"), catalog, usage)
    assert again.status == "already_final"
    assert again.invoices == final.invoices
    assert folder_hashes(september) == september_files

    # October draft carries the adjustments:
    # traces: 1800 - 1500 = 300; price(1800) = 800 x 0.001 = 0.80, price(1500) = 0.50 -> 0.30
    # voice_minute: 5 - 0 = 5; not priced by basic -> 0.00 (a line all the same)
    # October traces 800 <= 1000 included -> 0.00; total 100.00 + 0.00 + 0.30 + 0.00 = 100.30
    expected_october = [
        ("2026-09", "traces", "INV-202609-0001", "300", "0.30"),
        ("2026-09", "voice_minute", "INV-202609-0001", "5", "0.00"),
    ]
    october_draft = issue_month(home, "2026-10", at("2026-10-20T00:00:00Z"), catalog, usage)
    (invoice,) = october_draft.invoices
    assert adjustment_lines(invoice) == expected_october
    assert (invoice["usage_subtotal"], invoice["total"]) == ("0.30", "100.30")

    october_final = issue_month(home, "2026-10", at("2026-11-04T00:00:00Z"), catalog, usage)
    (invoice,) = october_final.invoices
    assert invoice["invoice_number"] == "INV-202610-0001"
    assert adjustment_lines(invoice) == expected_october
    assert invoice["total"] == "100.30"
    assert (october / "acme.csv").read_text(encoding="utf-8").splitlines() == [
        ",".join(LINE_COLUMNS),
        "INV-202610-0001,acme,2026-10,final,1,fee,,Basic monthly fee,,,,,,,,100.00",
        "INV-202610-0001,acme,2026-10,final,2,usage,traces,,,,800,1000,0,0.001,,0.00",
        "INV-202610-0001,acme,2026-10,final,3,adjustment,traces,,2026-09,INV-202609-0001,300,,,,,0.30",
        "INV-202610-0001,acme,2026-10,final,4,adjustment,voice_minute,,2026-09,INV-202609-0001,5,,,,,0.00",
    ]
    october_files = folder_hashes(october)

    # billed once: November has nothing to adjust; fee only
    november = issue_month(home, "2026-11", at("2026-11-10T00:00:00Z"), catalog, usage)
    (invoice,) = november.invoices
    assert adjustment_lines(invoice) == []
    assert invoice["total"] == "100.00"

    # more late data, for September again and for October: only the new difference is billed
    # September traces 1850 - (1500 + 300) = 50: price(1850) = 0.85 - price(1800) = 0.80 -> 0.05
    # October traces 1800 - 800 = 1000: price(1800) = 0.80 - price(800) = 0.00 -> 0.80
    # total 100.00 + 0.05 + 0.80 = 100.85
    usage[("acme", "2026-09")]["traces"] = D(1850)
    usage[("acme", "2026-10")]["traces"] = D(1800)
    november = issue_month(home, "2026-11", at("2026-12-04T00:00:00Z"), catalog, usage)
    (invoice,) = november.invoices
    assert invoice["invoice_number"] == "INV-202611-0001"
    assert adjustment_lines(invoice) == [
        ("2026-09", "traces", "INV-202609-0001", "50", "0.05"),
        ("2026-10", "traces", "INV-202610-0001", "1000", "0.80"),
    ]
    assert invoice["total"] == "100.85"

    december = issue_month(home, "2026-12", at("2026-12-10T00:00:00Z"), catalog, usage)
    assert adjustment_lines(december.invoices[0]) == []

    for month in ("2026-09", "2026-10"):
        assert issue_month(home, month, at("2027-03-01T00:00:00Z"), catalog, usage).status == (
            "already_final"
        )
    assert folder_hashes(september) == september_files
    assert folder_hashes(october) == october_files


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (datetime(2026, 10, 4, 1, 0, tzinfo=timezone(timedelta(hours=2))), "draft"),  # 23:00Z
        (datetime(2026, 10, 4, 0, 0), "final"),  # naive = UTC: exactly end + grace
        (datetime(2026, 10, 3, 23, 0, tzinfo=timezone(timedelta(hours=-1))), "final"),  # 00:00Z
    ],
)
def test_grace_instant_is_compared_in_utc(tmp_path, basic_catalog, now, status):
    assert issue_month(tmp_path, "2026-09", now, basic_catalog, {}).status == status


def test_zero_grace_finalizes_at_period_end(tmp_path, basic_catalog_yaml):
    catalog = catalog_with(basic_catalog_yaml, grace_period_days=0)
    assert issue_month(tmp_path, "2026-09", at("2026-09-30T23:59:59Z"), catalog, {}).status == (
        "draft"
    )
    assert issue_month(tmp_path, "2026-09", at("2026-10-01T00:00:00Z"), catalog, {}).status == (
        "final"
    )


def test_drafts_are_regenerated_and_stale_files_removed(tmp_path, basic_catalog_yaml):
    folder = tmp_path / "invoices/2026-09"
    both = catalog_with(basic_catalog_yaml, subscriptions=subscriptions("acme", "beta"))
    issue_month(tmp_path, "2026-09", at("2026-09-10T00:00:00Z"), both, {})
    assert {"beta.json", "beta.csv", "beta.pdf"} <= set(os.listdir(folder))
    (folder / ".acme.json.tmp").write_bytes(b"half a file from a crashed run")

    acme_only = catalog_with(basic_catalog_yaml, subscriptions=subscriptions("acme"))
    issue_month(tmp_path, "2026-09", at("2026-09-11T00:00:00Z"), acme_only, {})
    assert sorted(os.listdir(folder)) == [
        "acme.csv",
        "acme.json",
        "acme.pdf",
        "manifest.json",
        "summary.csv",
        "unbilled.csv",
    ]
    assert json.loads((folder / "acme.json").read_text())["generated_at"] == "2026-09-11T00:00:00Z"


def test_manifest_lists_every_other_file_with_its_sha256(tmp_path, basic_catalog):
    usage = {("zeta", "2026-09"): {"traces": D(1)}}
    issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), basic_catalog, usage)
    folder = tmp_path / "invoices/2026-09"
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = folder_hashes(folder)
    del expected["manifest.json"]
    assert manifest == {"files": [{"name": n, "sha256": h} for n, h in sorted(expected.items())]}


def test_numbers_are_gapless_in_utf8_byte_order(tmp_path, basic_catalog_yaml):
    catalog = catalog_with(basic_catalog_yaml, subscriptions=subscriptions("é", "a", "Z", "B"))
    result = issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), catalog, {})
    # bytes: B = 42, Z = 5A, a = 61, é = C3 A9
    expected = [
        ("INV-202609-0001", "B"),
        ("INV-202609-0002", "Z"),
        ("INV-202609-0003", "a"),
        ("INV-202609-0004", "é"),
    ]
    assert [(i["invoice_number"], i["tenant_id"]) for i in result.invoices] == expected
    folder = tmp_path / "invoices/2026-09"
    summary = csv_rows(folder / "summary.csv")
    assert [(row["invoice_number"], row["tenant_id"]) for row in summary] == expected
    assert summary[0] == {
        "invoice_number": "INV-202609-0001",
        "tenant_id": "B",
        "plan": "basic",
        "status": "final",
        "monthly_fee": "100.00",
        "usage_subtotal": "0.00",
        "discount": "0.00",
        "true_up": "0.00",
        "total": "100.00",
    }
    assert json.loads((folder / "%C3%A9.json").read_text())["invoice_number"] == "INV-202609-0004"


def test_subscribed_tenant_without_usage_gets_the_fee_alone(tmp_path, basic_catalog):
    result = issue_month(tmp_path, "2026-09", at("2026-09-15T00:00:00Z"), basic_catalog, {})
    (invoice,) = result.invoices
    assert invoice["lines"] == [
        {"type": "fee", "description": "Basic monthly fee", "amount": "100.00"}
    ]
    assert invoice["total"] == "100.00"


def test_usage_without_plan_is_listed_in_unbilled(tmp_path, basic_catalog):
    usage = {
        ("zeta", "2026-09"): {"traces": D("12.50"), "api_call": D(5)},
        ("acme", "2026-09"): {"api_call": D(1)},
        ("zeta", "2026-08"): {"traces": D(99)},  # another month: not this month's business
    }
    result = issue_month(tmp_path, "2026-09", at("2026-09-15T00:00:00Z"), basic_catalog, usage)
    folder = tmp_path / "invoices/2026-09"
    assert (folder / "unbilled.csv").read_text(encoding="utf-8") == (
        "tenant_id,meter,quantity\nzeta,api_call,5\nzeta,traces,12.5\n"
    )
    assert result.unbilled == csv_rows(folder / "unbilled.csv")
    assert [i["tenant_id"] for i in result.invoices] == ["acme"]
    assert not list(folder.glob("zeta.*"))


def test_default_plan_bills_tenants_without_any_subscription(tmp_path, basic_catalog_yaml):
    catalog = catalog_with(
        basic_catalog_yaml,
        default_plan="basic",
        subscriptions=[
            {"tenant_id": "acme", "plan": "basic", "start": "2026-09-01"},
            {"tenant_id": "gone", "plan": "basic", "start": "2026-01-01"},
            {"tenant_id": "gone", "plan": None, "start": "2026-09-01"},
            {"tenant_id": "future", "plan": "basic", "start": "2026-12-01"},
        ],
    )
    usage = {
        ("walk-in", "2026-09"): {"api_call": D(300)},
        ("gone", "2026-09"): {"api_call": D(1)},
        ("future", "2026-09"): {"api_call": D(2)},
    }
    result = issue_month(tmp_path, "2026-09", at("2026-09-15T00:00:00Z"), catalog, usage)
    # acme: subscribed, fee alone; walk-in: default plan, 100.00 + 300 x 0.01 = 103.00;
    # gone (ended) and future (not started) have entries, so no default plan: unbilled
    assert [(i["tenant_id"], i["total"]) for i in result.invoices] == [
        ("acme", "100.00"),
        ("walk-in", "103.00"),
    ]
    assert result.unbilled == [
        {"tenant_id": "future", "meter": "api_call", "quantity": "2"},
        {"tenant_id": "gone", "meter": "api_call", "quantity": "1"},
    ]


@pytest.mark.parametrize(
    ("tenant_id", "stem"),
    [
        ("acme", "acme"),
        ("A-Z_0.9", "A-Z_0.9"),
        ("a/b", "a%2Fb"),
        ("../../etc/x", "%2E.%2F..%2Fetc%2Fx"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("...", "%2E.."),  # a hidden file otherwise (SPEC 6)
        ("é", "%C3%A9"),
        ("a b%", "a%20b%25"),
        ("x\\y", "x%5Cy"),
        ("summary", "%73ummary"),  # would overwrite summary.csv
        ("Manifest", "%4Danifest"),  # manifest.json on a case-insensitive file system
    ],
)
def test_invoice_file_stem_percent_encodes(tenant_id, stem):
    assert invoice_file_stem(tenant_id) == stem


def test_no_tenant_id_writes_outside_the_month_folder(tmp_path, basic_catalog_yaml):
    tenants = ("../../etc/x", "a/b", ".", "..", "/abs", "summary", "unbilled", "manifest")
    catalog = catalog_with(basic_catalog_yaml, subscriptions=subscriptions(*tenants))
    home = tmp_path / "home"
    result = issue_month(home, "2026-09", at("2026-10-04T00:00:00Z"), catalog, {})
    assert len(result.invoices) == len(tenants)
    folder = home / "invoices/2026-09"
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    month_files = {p for p in written if p.parent == Path("home/invoices/2026-09")}
    assert written - month_files == {Path("home/state/billing/ledger/2026-09.json")}
    assert len(month_files) == 3 * len(tenants) + 3  # json/csv/pdf each + summary/unbilled/manifest
    for tenant in tenants:
        document = json.loads((folder / f"{invoice_file_stem(tenant)}.json").read_text())
        assert document["tenant_id"] == tenant
    assert csv_rows(folder / "summary.csv")[0]["tenant_id"] == "."


def test_adjustment_uses_the_prices_the_period_was_billed_with(tmp_path, basic_catalog_yaml):
    catalog = catalog_with(basic_catalog_yaml)
    usage = {("acme", "2026-09"): {"traces": D(1500)}}
    issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), catalog, usage)

    document = yaml.safe_load(basic_catalog_yaml)
    document["plans"]["basic"]["prices"]["traces"]["unit_price"] = "0.002"  # price rise
    repriced = parse_catalog(yaml.safe_dump(document))
    usage[("acme", "2026-09")] = {"traces": D(1800)}
    usage[("acme", "2026-10")] = {"traces": D(1500)}
    (invoice,) = issue_month(
        tmp_path, "2026-10", at("2026-10-15T00:00:00Z"), repriced, usage
    ).invoices
    # September at its own price: 800 x 0.001 - 500 x 0.001 = 0.80 - 0.50 = 0.30 (not 0.60)
    assert adjustment_lines(invoice) == [("2026-09", "traces", "INV-202609-0001", "300", "0.30")]
    # October at the new price: (1500 - 1000) x 0.002 = 1.00; total 100.00 + 1.00 + 0.30
    assert invoice["total"] == "101.30"


def test_late_usage_of_a_graduated_meter_is_adjusted_with_its_tiers(tmp_path, spec_catalog):
    # the ledger keeps the last tier's `up_to: null`, so the tiers are read back from it
    usage = {("acme", "2026-09"): {"api_call": D(100000)}}
    issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), spec_catalog, usage)
    usage[("acme", "2026-09")] = {"api_call": D(103000)}
    (invoice,) = issue_month(
        tmp_path, "2026-10", at("2026-10-15T00:00:00Z"), spec_catalog, usage
    ).invoices
    # billable 102000: 100000 x 0.01 + 2000 x 0.008 = 1016.00, billed 99000 x 0.01 = 990.00
    assert adjustment_lines(invoice) == [
        ("2026-09", "api_call", "INV-202609-0001", "3000", "26.00")
    ]
    assert invoice["total"] == "526.00"


def test_two_open_drafts_show_a_pending_adjustment_that_is_billed_once(tmp_path, basic_catalog):
    usage = {("acme", "2026-09"): {"api_call": D(100)}}
    issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), basic_catalog, usage)
    usage[("acme", "2026-09")] = {"api_call": D(150)}
    # 50 x 0.01 = 0.50 on whichever open invoice finalizes first
    pending = [("2026-09", "api_call", "INV-202609-0001", "50", "0.50")]
    for month in ("2026-10", "2026-11"):
        draft = issue_month(tmp_path, month, at("2026-11-02T00:00:00Z"), basic_catalog, usage)
        assert adjustment_lines(draft.invoices[0]) == pending

    october = issue_month(tmp_path, "2026-10", at("2026-11-04T00:00:00Z"), basic_catalog, usage)
    assert adjustment_lines(october.invoices[0]) == pending
    november = issue_month(tmp_path, "2026-11", at("2026-11-05T00:00:00Z"), basic_catalog, usage)
    assert adjustment_lines(november.invoices[0]) == []


def test_default_plan_tenant_with_only_adjustments_gets_an_invoice(tmp_path, basic_catalog_yaml):
    catalog = catalog_with(basic_catalog_yaml, default_plan="basic", subscriptions=[])
    usage = {("walk-in", "2026-09"): {"api_call": D(10)}}
    issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), catalog, usage)
    usage[("walk-in", "2026-09")] = {"api_call": D(12)}
    (invoice,) = issue_month(
        tmp_path, "2026-10", at("2026-10-05T00:00:00Z"), catalog, usage
    ).invoices
    # no October usage; adjustment 2 x 0.01 = 0.02; total 100.00 + 0.02
    assert invoice["usage"] == {}
    assert adjustment_lines(invoice) == [("2026-09", "api_call", "INV-202609-0001", "2", "0.02")]
    assert invoice["total"] == "100.02"


def test_late_usage_of_a_period_without_invoice_is_not_adjusted(tmp_path, basic_catalog_yaml):
    catalog = catalog_with(
        basic_catalog_yaml, subscriptions=subscriptions("zeta", start="2026-10-01")
    )
    usage = {("zeta", "2026-09"): {"api_call": D(10)}}
    september = issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), catalog, usage)
    assert september.invoices == []
    assert september.unbilled == [{"tenant_id": "zeta", "meter": "api_call", "quantity": "10"}]
    usage[("zeta", "2026-09")] = {"api_call": D(20)}
    (invoice,) = issue_month(
        tmp_path, "2026-10", at("2026-10-05T00:00:00Z"), catalog, usage
    ).invoices
    assert adjustment_lines(invoice) == []


def test_a_crash_while_finalizing_leaves_the_month_open(tmp_path, basic_catalog, monkeypatch):
    usage = {("acme", "2026-09"): {"api_call": D(100)}}
    real_replace, calls = os.replace, []

    def crash_on_third_file(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == 3:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_on_third_file)
    with pytest.raises(OSError, match="disk full"):
        issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), basic_catalog, usage)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not (tmp_path / "state/billing/ledger").exists()

    retried = issue_month(tmp_path, "2026-09", at("2026-10-05T00:00:00Z"), basic_catalog, usage)
    assert retried.status == "final"
    assert retried.invoices[0]["invoice_number"] == "INV-202609-0001"
    folder = tmp_path / "invoices/2026-09"
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: digest for name, digest in folder_hashes(folder).items() if name != "manifest.json"
    }


def test_result_lines_are_rows_of_fct_invoice_lines(tmp_path, basic_catalog):
    usage = {("acme", "2026-09"): {"traces": D(1500), "api_call": D(200)}}
    result: IssueResult = issue_month(
        tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), basic_catalog, usage
    )
    assert [(r["line_no"], r["type"], r["meter"], r["amount"]) for r in result.lines] == [
        (1, "fee", None, "100.00"),
        (2, "usage", "api_call", "2.00"),  # 200 x 0.01
        (3, "usage", "traces", "0.50"),  # (1500 - 1000) x 0.001
    ]
    assert all(set(row) == set(LINE_COLUMNS) for row in result.lines)
    assert {(r["invoice_number"], r["period"], r["status"]) for r in result.lines} == {
        ("INV-202609-0001", "2026-09", "final")
    }


def test_tiers_are_flattened_into_one_column(spec_invoice_json):
    rows = invoice_line_rows(invoice_from_json(json.loads(spec_invoice_json)))
    api_call = next(row for row in rows if row["meter"] == "api_call")
    assert api_call["tiers"] == "0-100000: 100000 x 0.01 = 1000.00; 100000+: 2000 x 0.008 = 16.00"
    assert api_call["unit_price"] is None


def test_money_check_accepts_a_correct_invoice_and_names_problems(spec_invoice_json):
    invoice = json.loads(spec_invoice_json)
    assert money_check(invoice) == []

    wrong_total = invoice | {"total": "1721.80"}
    assert money_check(wrong_total) == [
        "INV-202610-0001: total 1721.80 != monthly_fee + usage_subtotal + discount + true_up "
        "(1721.79)"
    ]

    lines = [dict(line) for line in invoice["lines"]]
    lines[3]["amount"] = "5.68"  # traces line one cent off
    assert money_check(invoice | {"lines": lines}) == [
        "INV-202610-0001: usage_subtotal 1286.10 != sum of usage and adjustment lines (1286.11)"
    ]

    draft = invoice | {"invoice_number": None, "discount": "-64.3"}
    assert money_check(draft) == [
        "draft invoice of 'acme': amount '-64.3' does not have exactly 2 decimals"
    ]


def test_a_final_month_run_never_touches_its_files(tmp_path, basic_catalog):
    usage = {("acme", "2026-09"): {"api_call": D(100)}}
    issue_month(tmp_path, "2026-09", at("2026-10-04T00:00:00Z"), basic_catalog, usage)
    folder = tmp_path / "invoices/2026-09"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    usage[("acme", "2026-09")] = {"api_call": D(900)}
    later = issue_month(tmp_path, "2026-09", datetime(2027, 1, 1, tzinfo=UTC), basic_catalog, usage)
    assert later.status == "already_final"
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
