"""End to end: `meterline generate | run | invoice` through the CLI, in process, on generated data.

One generated month (4 tenants, ~4,000 items, seed 11, October 2026 plus its late deliveries
into November) is run once and shared by the whole module. Everything expected is computed here
from the raw files (`tests/oracle/spec2_recount.py`, SPEC 2) and from the catalog below (SPEC 3-4 written out
with plain `Decimal` arithmetic); nothing is imported from `orchestration` except the CLI entry
point under test.

The tests run in file order on the shared home; the only one that changes the landing zone
(deleting raw files) is last, and every expectation is taken before it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import CATALOG_METERS
from oracle.spec2_recount import REASONS, Recount, canonical, parse_json, recount

from orchestration.cli import main

MONTH = "2026-10"
GENERATE = ["--month", MONTH, "--tenants", "4", "--events", "4000", "--seed", "11"]
TENANTS = {"acme", "globex", "initech", "umbrella"}  # the first 4 of the generator's roster

# --- running the CLI --------------------------------------------------------------------------


def cli(home: Path, command: str, *args: str, exit_code: int = 0) -> Result:
    """`meterline <command> --home <home> <args>` in process; asserts the exit code."""
    result = CliRunner().invoke(main, [command, "--home", str(home), *args])
    assert result.exit_code == exit_code, (
        f"meterline {command} {' '.join(args)}: exit {result.exit_code}, expected {exit_code}\n"
        f"{result.output}\n{result.exception!r}"
    )
    return result


@dataclass
class Pipeline:
    home: Path
    counted: Recount  # the recount of the raw files as generated (before any deletion)
    deliveries: list[date]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    """Generate the month, recount it from the raw files, then `meterline run` it once."""
    home = tmp_path_factory.mktemp("meterline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("METERLINE_HOME", raising=False)
        cli(home, "generate", *GENERATE)
        counted = recount(home)
        deliveries = sorted(
            {date.fromisoformat(day.name) for day in (home / "raw").glob("*/*") if day.is_dir()}
        )
        cli(home, "run")
        yield Pipeline(home, counted, deliveries)


# --- reading what the pipeline published --------------------------------------------------


def connect(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)


def query(home: Path, sql: str) -> list[tuple]:
    con = connect(home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def published_usage(home: Path) -> dict[tuple[str, str, str], tuple[Decimal, int]]:
    """(tenant, 'YYYY-MM', meter) -> (quantity, record_count) from tenant_monthly_usage."""
    rows = query(
        home,
        "SELECT tenant_id, strftime(usage_month, '%Y-%m'), meter, quantity, record_count "
        "FROM tenant_monthly_usage",
    )
    usage = {}
    for tenant, month, meter, quantity, count in rows:
        assert (tenant, month, meter) not in usage, f"two rows for {(tenant, month, meter)}"
        usage[(tenant, month, meter)] = (Decimal(quantity), count)
    return usage


def published_tables(home: Path) -> dict[str, list[str]]:
    """Every published table (DuckDB and Parquet) as its sorted rows: a comparable content."""
    con = connect(home)
    try:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        ]
        tables = {
            name: sorted(map(repr, con.sql(f'SELECT * FROM "{name}"').fetchall())) for name in names
        }
        for parquet in sorted((home / "published" / "parquet").glob("*.parquet")):
            # a table's Parquet is a directory of month files
            files = str(parquet / "*.parquet")
            rows = con.execute("SELECT * FROM read_parquet(?)", [files]).fetchall()
            tables[f"parquet/{parquet.name}"] = sorted(map(repr, rows))
    finally:
        con.close()
    return tables


def assert_same_tables(before: dict[str, list[str]], after: dict[str, list[str]], what: str):
    problems = []
    if set(before) != set(after):
        problems.append(f"tables appeared/disappeared: {sorted(set(before) ^ set(after))}")
    for name in sorted(set(before) & set(after)):
        if before[name] != after[name]:
            old, new = Counter(before[name]), Counter(after[name])
            problems.append(
                f"{name}: {len(before[name])} -> {len(after[name])} rows; "
                f"gone {sorted((old - new).elements())[:3]}; new {sorted((new - old).elements())[:3]}"
            )
    assert not problems, f"{what} changed published tables:\n  " + "\n  ".join(problems)


def nonzero(usage: dict) -> dict:
    """SPEC is silent on zero-quantity rows; compare what has quantity."""
    return {key: value for key, value in usage.items() if value != 0}


# --- 1. marts against the recount -------------------------------------------------------------


def test_monthly_usage_equals_independent_recount(pipeline: Pipeline):
    counted = pipeline.counted
    published = published_usage(pipeline.home)
    quantities = nonzero({key: q for key, (q, _) in published.items()})
    expected = nonzero(counted.usage)

    differences = [
        f"{key}: published {quantities.get(key)} != recount {expected.get(key)}"
        for key in sorted(set(quantities) | set(expected))
        if quantities.get(key) != expected.get(key)
    ]
    assert not differences, "tenant_monthly_usage differs from the raw files:\n  " + "\n  ".join(
        differences
    )
    counts = {key: published[key][1] for key in quantities}
    wrong_counts = {
        key: (counts[key], counted.record_counts[key])
        for key in counts
        if counts[key] != counted.record_counts[key]
    }
    assert not wrong_counts, f"record_count (published, recount): {wrong_counts}"

    # the data set really exercises what it should: every tenant, every meter, late and early data
    assert {tenant for tenant, _, _ in expected} == TENANTS
    assert {meter for _, _, meter in expected} == {
        "traces", "llm_input_tokens", "llm_output_tokens", "tool_calls",
        "api_call", "voice_minute", "ai_query", "storage_mb",
        "llm_cache_read_tokens", "llm_cache_write_tokens", "llm_reasoning_tokens",
    }  # fmt: skip
    assert {month for _, month, _ in expected} == {"2026-09", MONTH}
    for source in ("events", "usage_logs", "traces", "sessions"):
        assert counted.outcomes[source]["duplicate"] > 0, source
        assert counted.outcomes[source]["conflict"] > 0, source
    assert pipeline.deliveries[0] == date(2026, 10, 1)
    assert pipeline.deliveries[-1] > date(2026, 11, 1)  # late deliveries into next month


def test_ingest_audit_balances_for_every_file(pipeline: Pipeline):
    rows = query(
        pipeline.home,
        "SELECT source, file, delivery_date, lines_read, items_read, accepted, duplicates, "
        "conflicts, quarantined FROM ingest_audit",
    )
    unbalanced = [row for row in rows if row[4] != row[5] + row[6] + row[7] + row[8]]
    assert not unbalanced, (
        f"items_read != accepted + duplicates + conflicts + quarantined: {unbalanced}"
    )

    audited = {row[1]: row for row in rows}
    assert len(audited) == len(rows), "a file is audited twice"
    assert set(audited) == set(pipeline.counted.files), (
        f"audited but not raw: {sorted(set(audited) - set(pipeline.counted.files))}; "
        f"raw but not audited: {sorted(set(pipeline.counted.files) - set(audited))}"
    )
    wrong = []
    for name, expected in pipeline.counted.files.items():
        got = audited[name]
        want = (
            expected.source, name, expected.delivery_date, expected.lines_read,
            expected.items_read, expected.accepted, expected.duplicates, expected.conflicts,
            expected.quarantined,
        )  # fmt: skip
        if tuple(got) != want:
            wrong.append(f"{name}: audit {tuple(got)[2:]} != recount {want[2:]}")
    assert not wrong, "ingest_audit differs from the raw files:\n  " + "\n  ".join(wrong)
    # usage of October delivered in November was ingested too
    assert any(row[2] >= date(2026, 11, 1) and row[5] > 0 for row in rows)


# SPEC 2.5 reasons that can apply to each source (sessions have no quantity field; only events
# and sessions have a meter that can be unknown) -- the generator plants every one of them.
PLANTED = {
    "events": set(REASONS),
    "usage_logs": set(REASONS) - {"unknown_meter"},
    "traces": set(REASONS) - {"unknown_meter"},
    "sessions": set(REASONS) - {"bad_quantity"},
}


def test_quarantine_holds_every_planted_reason(pipeline: Pipeline):
    rows = query(pipeline.home, "SELECT source, file, line_number, reason, raw FROM quarantine")
    found = {source: {r[3] for r in rows if r[0] == source} for source in PLANTED}
    assert found == PLANTED, f"quarantine reasons per source: {found}"
    assert {r[3] for r in rows} == set(REASONS)

    published = Counter((r[0], r[1], r[2], r[3]) for r in rows)
    expected = pipeline.counted.quarantine
    assert published == expected, (
        f"quarantine rows not in the recount: {sorted((published - expected).elements())}\n"
        f"recount rows not in quarantine: {sorted((expected - published).elements())}"
    )
    # raw = the item's own JSON, or the whole line when the line is unusable
    wrong_raw = []
    for source, file, line, reason, raw in rows:
        candidates = pipeline.counted.quarantined_raw[(source, file, line)]
        if reason == "malformed_json" and raw in candidates:
            continue  # an unusable line, kept whole
        # an item's own JSON (a span with an unusable id is malformed_json too), in any key order
        try:
            text = canonical(parse_json(raw))
        except ValueError:
            text = raw
        if text not in candidates:
            wrong_raw.append((source, file, line, reason, raw[:120]))
    assert not wrong_raw, f"quarantine.raw is not the item / line: {wrong_raw}"


def test_billable_traces_equal_recount(pipeline: Pipeline):
    facts = pipeline.counted.traces
    failed = {t for t, f in facts.items() if f.has_root and f.root_failed}
    rootless = {t for t, f in facts.items() if not f.has_root}
    root_late = {t for t, f in facts.items() if f.has_root and f.root_delivery > f.first_delivery}
    # the generated month covers the cases this test is about
    assert failed and rootless and root_late, (len(failed), len(rootless), len(root_late))

    published = {
        (tenant, month): int(quantity)
        for (tenant, month, meter), (quantity, _) in published_usage(pipeline.home).items()
        if meter == "traces"
    }
    assert published == pipeline.counted.billable_traces()

    sessions = {
        trace_id: (tenant, status, billable, started)
        for trace_id, tenant, status, billable, started in query(
            pipeline.home,
            "SELECT trace_id, tenant_id, status, is_billable, started_at FROM fct_trace_sessions",
        )
    }
    assert set(sessions) == set(facts), "fct_trace_sessions has other traces than the raw files"
    wrong = []
    for trace_id, fact in facts.items():
        tenant, status, billable, _ = sessions[trace_id]
        want_status = "no_root" if not fact.has_root else "error" if fact.root_failed else None
        if bool(billable) != fact.billable or (want_status and status != want_status):
            wrong.append((trace_id, status, billable, fact))
        if fact.billable and (status == "error" or tenant != fact.root_tenant):
            wrong.append((trace_id, tenant, status, fact))
    assert not wrong, f"fct_trace_sessions disagrees with the raw spans: {wrong[:5]}"
    for trace_id in root_late:
        assert sessions[trace_id][2] == facts[trace_id].billable


# --- 2. re-running changes nothing ------------------------------------------------------------


def test_dbt_unit_tests_pass_against_the_built_warehouse(pipeline: Pipeline, tmp_path: Path):
    """The dbt unit tests (dbt_project/models/intermediate/_unit_tests.yml) are left out of the
    production `dbt build`; this is where they run."""
    dbt = Path(sys.executable).with_name("dbt")
    project = Path(__file__).resolve().parents[2] / "dbt_project"
    done = subprocess.run(
        [
            str(dbt),
            "test",
            "--select",
            "test_type:unit",
            "--profiles-dir",
            ".",
            "--target-path",
            str(tmp_path),
        ],
        cwd=project,
        env={
            **os.environ,
            "METERLINE_HOME": str(pipeline.home),
            "DBT_LOG_PATH": str(tmp_path),
            "DO_NOT_TRACK": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    results = json.loads((tmp_path / "run_results.json").read_text())["results"]
    # the project's on-run-start hook (Spark's bronze views; nothing on DuckDB) reports `success`
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 10
    assert {r["status"] for r in unit_tests} == {"pass"}


def test_delivery_partitions_are_the_delivery_folders(pipeline: Pipeline):
    """Partitions follow the data: one per delivery folder, none reaching years ahead."""
    import dagster as dg

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(pipeline.home / "dagster"))
        keys = dg.DagsterInstance.get().get_dynamic_partitions("deliveries")
    assert sorted(keys) == [day.isoformat() for day in pipeline.deliveries]


def test_run_again_changes_no_published_table(pipeline: Pipeline):
    before = published_tables(pipeline.home)
    result = cli(pipeline.home, "run")
    assert "none new" in result.output
    assert_same_tables(before, published_tables(pipeline.home), "a second `run`")


def test_run_from_to_over_ingested_days_changes_no_published_table(pipeline: Pipeline):
    before = published_tables(pipeline.home)
    first, last = pipeline.deliveries[0].isoformat(), pipeline.deliveries[-1].isoformat()
    result = cli(pipeline.home, "run", "--from", first, "--to", last)
    assert first in result.output and last in result.output
    assert_same_tables(before, published_tables(pipeline.home), f"`run --from {first} --to {last}`")


# --- 3. invoices ------------------------------------------------------------------------------

CATALOG_YML = (
    """\
currency: USD
grace_period_days: 3
default_plan: null
"""
    + CATALOG_METERS
    + """\
model_prices:
  - {model: claude-sonnet-4-5, input_per_million: "3.00", output_per_million: "15.00", effective_from: 2025-09-29}
plans:
  pro:
    name: Pro
    monthly_fee: "99.00"
    minimum_commitment: "40.00"
    prices:
      traces:            {included: 100, unit_price: "0.0375"}
      llm_input_tokens:  {included: 0, unit_price: "0.0000025"}
      llm_output_tokens: {included: 100000, unit_price: "0.0000123"}
      tool_calls:        {included: 250, unit_price: "0.0015"}
      voice_minute:      {included: 800, unit_price: "0.0125"}
      storage_mb:        {unit_price: "0.00037"}
      api_call:
        included: 50
        tiers:
          - {up_to: 100,  unit_price: "0.125"}
          - {up_to: 400,  unit_price: "0.0333"}
          - {up_to: null, unit_price: "0.0047"}
    volume_discounts:
      - {from_amount: "20.00", percent: "2.5"}
      - {from_amount: "40.00", percent: "7.5"}
      - {from_amount: "100000.00", percent: "50"}
  flat:
    name: Flat
    monthly_fee: "15.00"
    prices:
      ai_query: {included: 1000, unit_price: "0.05"}
subscriptions:
  - {tenant_id: acme, plan: pro, start: 2026-10-01}
  - {tenant_id: globex, plan: pro, start: 2026-06-01}
  - {tenant_id: globex, plan: flat, start: 2026-11-01}
  - {tenant_id: initech, plan: pro, start: 2026-01-01}
  - {tenant_id: initech, plan: null, start: 2026-10-01}
  - {tenant_id: hooli, plan: flat, start: 2026-09-01}
"""
)
CATALOG = yaml.safe_load(CATALOG_YML)
# October under the catalog above: the latest start <= 2026-10-01 wins; initech's subscription
# ended on 2026-10-01, umbrella never had one and there is no default plan; hooli has no usage.
PLAN_OF = {"acme": "pro", "globex": "pro", "hooli": "flat"}
UNBILLED = ["initech", "umbrella"]
PERIOD = {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """SPEC 4.2: to cents, half away from zero (ROUND_HALF_UP is symmetric in `decimal`)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    text = f"{round_money(amount):.2f}"
    return "0.00" if text == "-0.00" else text


def qty(number: Decimal) -> str:
    """An exact decimal string without trailing zeros or exponent."""
    return format(Decimal(number).normalize(), "f")


def expected_invoice(tenant: str, usage: dict[str, Decimal]) -> dict:
    """The SPEC 4/6 invoice of `tenant` for October, written out with Decimal arithmetic."""
    plan = CATALOG["plans"][PLAN_OF[tenant]]
    fee = Decimal(plan["monthly_fee"])
    lines: list[dict] = [
        {"type": "fee", "description": f"{plan['name']} monthly fee", "amount": money(fee)}
    ]
    alerts = []
    subtotal = Decimal(0)
    for meter in sorted(usage):
        price = plan["prices"].get(meter)
        if price is None:
            continue
        used = usage[meter]
        included = Decimal(price.get("included", 0))
        billable = max(Decimal(0), used - included)
        line = {
            "type": "usage",
            "meter": meter,
            "quantity": qty(used),
            "included": qty(included),
            "billable_quantity": qty(billable),
        }
        if "tiers" in price:
            exact, lower, shown = Decimal(0), Decimal(0), []
            for tier in price["tiers"]:
                up_to = None if tier["up_to"] is None else Decimal(tier["up_to"])
                unit = Decimal(tier["unit_price"])
                upper = billable if up_to is None else min(billable, up_to)
                in_tier = max(Decimal(0), upper - lower)
                exact += in_tier * unit
                if in_tier:  # unreached tiers: their display is not fixed by SPEC
                    shown.append(
                        {
                            "up_to": None if up_to is None else qty(up_to),
                            "unit_price": qty(unit),
                            "quantity": qty(in_tier),
                            "amount": money(in_tier * unit),
                        }
                    )
                if up_to is not None:
                    lower = up_to
            line["tiers"] = shown
        else:
            unit = Decimal(price["unit_price"])
            exact = billable * unit
            line["unit_price"] = qty(unit)
        amount = round_money(exact)  # each line rounded once
        line["amount"] = money(amount)
        lines.append(line)
        subtotal += amount
        for threshold in ("0.9", "1.0"):
            if included > 0 and used >= Decimal(threshold) * included:
                alerts.append(
                    {
                        "meter": meter,
                        "threshold": threshold,
                        "usage": qty(used),
                        "included": qty(included),
                    }
                )
    brackets = [
        b for b in plan.get("volume_discounts", []) if Decimal(b["from_amount"]) <= subtotal
    ]
    discount = Decimal(0)
    if brackets:
        best = max(brackets, key=lambda b: Decimal(b["from_amount"]))
        discount = -round_money(subtotal * Decimal(best["percent"]) / 100)
        if discount:
            lines.append(
                {
                    "type": "discount",
                    "description": f"Volume discount {qty(Decimal(best['percent']))}%",
                    "amount": money(discount),
                }
            )
    commitment = plan.get("minimum_commitment")
    true_up = Decimal(0)
    if commitment is not None:
        true_up = max(Decimal(0), Decimal(commitment) - (subtotal + discount))
    if true_up:
        lines.append(
            {
                "type": "true_up",
                "description": "Minimum commitment true-up",
                "amount": money(true_up),
            }
        )
    return {
        "schema_version": 1,
        "tenant_id": tenant,
        "plan": PLAN_OF[tenant],
        "currency": "USD",
        "period": PERIOD,
        "usage": {meter: qty(q) for meter, q in sorted(usage.items())},
        "lines": lines,
        "monthly_fee": money(fee),
        "usage_subtotal": money(subtotal),
        "discount": money(discount),
        "true_up": money(true_up),
        "total": money(fee + subtotal + discount + true_up),
        "alerts": alerts,
    }


def invoice_differences(got: dict, want: dict) -> list[str]:
    """The fields and lines where two invoices differ, for a readable failure message."""
    out = []
    for key in sorted(set(got) | set(want)):
        if key == "lines" and isinstance(got.get(key), list):
            g, w = got["lines"], want.get("lines", [])
            out += [
                f"line {i}: got {g[i] if i < len(g) else None}, want {w[i] if i < len(w) else None}"
                for i in range(max(len(g), len(w)))
                if (g[i] if i < len(g) else None) != (w[i] if i < len(w) else None)
            ]
        elif got.get(key) != want.get(key):
            out.append(f"{key}: got {got.get(key)!r}, want {want.get(key)!r}")
    return out


def october_usage(counted: Recount) -> dict[str, dict[str, Decimal]]:
    usage: dict[str, dict[str, Decimal]] = {}
    for (tenant, month, meter), quantity in nonzero(counted.usage).items():
        if month == MONTH:
            usage.setdefault(tenant, {})[meter] = quantity
    return usage


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def sha256s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@dataclass
class Invoicing:
    catalog: Path
    drafts: dict[str, bytes]  # --now 2026-10-20
    last_drafts: dict[str, bytes]  # --now 2026-11-03T23:59:59Z, a second before E + grace
    final: dict[str, bytes]  # --now 2026-11-04T00:00:00Z = E + grace
    later: dict[str, bytes]  # --now 2026-12-15
    real_clock: dict[str, bytes]  # no --now


FINAL_NOW = "2026-11-04T00:00:00Z"


@pytest.fixture(scope="module")
def invoicing(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Invoicing:
    """October invoiced through its lifecycle: drafts, the last draft, final, two later runs."""
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.yml"
    catalog.write_text(CATALOG_YML)
    folder = pipeline.home / "invoices" / MONTH

    def invoice(now: str | None) -> dict[str, bytes]:
        args = ["--month", MONTH, "--catalog", str(catalog)]
        cli(pipeline.home, "invoice", *args, *(["--now", now] if now else []))
        return folder_bytes(folder)

    return Invoicing(
        catalog=catalog,
        drafts=invoice("2026-10-20T00:00:00Z"),
        last_drafts=invoice("2026-11-03T23:59:59Z"),
        final=invoice(FINAL_NOW),
        later=invoice("2026-12-15T00:00:00Z"),
        real_clock=invoice(None),
    )


def invoices_of(files: dict[str, bytes]) -> dict[str, dict]:
    return {
        name.removesuffix(".json"): json.loads(data)
        for name, data in files.items()
        if name.endswith(".json") and name != "manifest.json"
    }


def test_drafts_until_period_end_plus_grace(invoicing: Invoicing):
    for files, now in (
        (invoicing.drafts, "2026-10-20T00:00:00Z"),
        (invoicing.last_drafts, "2026-11-03T23:59:59Z"),
    ):
        invoices = invoices_of(files)
        assert set(invoices) == set(PLAN_OF), f"--now {now}: invoices for {sorted(invoices)}"
        for tenant, invoice in invoices.items():
            assert (invoice["status"], invoice["invoice_number"]) == ("draft", None), (now, tenant)
            assert invoice["generated_at"] == now
        summary = read_csv(files["summary.csv"])
        assert [(r["invoice_number"], r["status"]) for r in summary] == [("", "draft")] * 3, now


def test_final_invoices_numbered_in_tenant_byte_order(invoicing: Invoicing):
    invoices = invoices_of(invoicing.final)
    tenants = sorted(PLAN_OF, key=lambda t: t.encode())
    numbers = {t: f"INV-202610-{i:04d}" for i, t in enumerate(tenants, start=1)}
    got = {
        t: (inv["status"], inv["invoice_number"], inv["generated_at"])
        for t, inv in invoices.items()
    }
    assert got == {t: ("final", numbers[t], FINAL_NOW) for t in tenants}
    summary = read_csv(invoicing.final["summary.csv"])
    assert [(r["invoice_number"], r["tenant_id"], r["status"]) for r in summary] == [
        (numbers[t], t, "final") for t in tenants
    ]
    for tenant in tenants:
        rows = read_csv(invoicing.final[f"{tenant}.csv"])
        assert {(r["invoice_number"], r["status"]) for r in rows} == {(numbers[tenant], "final")}


def test_final_month_is_never_rewritten(invoicing: Invoicing):
    final = sha256s(invoicing.final)
    assert sha256s(invoicing.later) == final, "a run after finalization rewrote the month"
    assert sha256s(invoicing.real_clock) == final, "a real-clock run rewrote the month"
    manifest = json.loads(invoicing.final["manifest.json"])
    listed = {entry["name"]: entry["sha256"] for entry in manifest["files"]}
    assert listed == {name: digest for name, digest in final.items() if name != "manifest.json"}


def test_invoice_totals_equal_recount_priced_by_hand(pipeline: Pipeline, invoicing: Invoicing):
    usage = october_usage(pipeline.counted)
    expected = {tenant: expected_invoice(tenant, usage.get(tenant, {})) for tenant in PLAN_OF}

    # the catalog really exercises every rule on this data
    acme, globex, hooli = expected["acme"], expected["globex"], expected["hooli"]
    assert Decimal(acme["discount"]) < 0 and acme["true_up"] == "0.00", acme
    assert any(line.get("description") == "Volume discount 7.5%" for line in acme["lines"])
    assert len(next(li for li in acme["lines"] if li.get("meter") == "api_call")["tiers"]) == 3
    assert Decimal(globex["discount"]) < 0 and Decimal(globex["true_up"]) > 0, globex
    assert hooli["usage"] == {} and hooli["lines"] == [
        {"type": "fee", "description": "Flat monthly fee", "amount": "15.00"}
    ]
    assert acme["alerts"] and globex["alerts"]

    for label, files in (("draft", invoicing.drafts), ("final", invoicing.final)):
        invoices = invoices_of(files)
        for tenant, want in expected.items():
            got = dict(invoices[tenant])
            for key in ("status", "invoice_number", "generated_at"):
                got.pop(key)
            got["lines"] = [
                {**line, "tiers": [t for t in line["tiers"] if t["quantity"] != "0"]}
                if "tiers" in line
                else line
                for line in got["lines"]
            ]
            assert got == want, f"{label} invoice of {tenant}:\n  " + "\n  ".join(
                invoice_differences(got, want)
            )
            rows = read_csv(files[f"{tenant}.csv"])
            assert [r["amount"] for r in rows] == [line["amount"] for line in want["lines"]]
            assert sum(Decimal(r["amount"]) for r in rows) == Decimal(want["total"])
            assert files[f"{tenant}.pdf"].startswith(b"%PDF")

        summary = read_csv(files["summary.csv"])
        columns = [
            "tenant_id",
            "plan",
            "monthly_fee",
            "usage_subtotal",
            "discount",
            "true_up",
            "total",
        ]
        assert [[row[c] for c in columns] for row in summary] == [
            [expected[t]["tenant_id"], expected[t]["plan"]] + [expected[t][c] for c in columns[2:]]
            for t in sorted(expected, key=str.encode)
        ]

        unbilled = read_csv(files["unbilled.csv"])
        assert [(r["tenant_id"], r["meter"], r["quantity"]) for r in unbilled] == [
            (tenant, meter, qty(quantity))
            for tenant in UNBILLED
            for meter, quantity in sorted(usage[tenant].items())
        ]
        assert {f"{t}.json" for t in UNBILLED}.isdisjoint(files)


# --- 4. exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            '      storage_mb:        {unit_price: "0.00037"}\n',
            '      storage_mb:        {unit_price: "0.00037"}\n'
            '      video_minute:      {unit_price: "0.01"}\n',
            "plans.pro.prices.video_minute",
        ),
        ('monthly_fee: "99.00"', 'monthly_fee: "99.001"', "plans.pro.monthly_fee"),
        (
            "{tenant_id: hooli, plan: flat,",
            "{tenant_id: hooli, plan: gold,",
            "subscriptions[5].plan",
        ),
    ],
    ids=["unknown-meter", "fee-not-cents", "unknown-plan"],
)
def test_bad_catalog_exits_2_naming_the_field(
    pipeline: Pipeline, tmp_path: Path, old: str, new: str, field: str
):
    assert old in CATALOG_YML
    catalog = tmp_path / "catalog.yml"
    catalog.write_text(CATALOG_YML.replace(old, new))
    invoices = pipeline.home / "invoices"
    before = {p: p.read_bytes() for p in invoices.rglob("*") if p.is_file()}
    for command, args in (("invoice", ["--month", MONTH, "--now", FINAL_NOW]), ("run", [])):
        result = cli(pipeline.home, command, *args, "--catalog", str(catalog), exit_code=2)
        assert field in result.output, f"{command}: message does not name {field}:\n{result.output}"
    assert {p: p.read_bytes() for p in invoices.rglob("*") if p.is_file()} == before


def test_bad_month_exits_2(pipeline: Pipeline):
    for command in ("invoice", "generate"):
        result = cli(pipeline.home, command, "--month", "2026-13", exit_code=2)
        assert "2026-13" in result.output
    assert not (pipeline.home / "invoices" / "2026-13").exists()


# --- 5. retention (keep last: it deletes raw files of the shared home) -----------------------


def test_deleting_ingested_raw_files_changes_no_published_total(pipeline: Pipeline):
    """SPEC 2: raw files may be deleted by retention after they were ingested; usage already
    ingested never goes away, and audit / quarantine rows stay. Re-running the delivery days
    whose files are (partly) gone must keep everything that was ingested from them."""
    home = pipeline.home
    before = published_tables(home)
    raw = home / "raw"
    days = [d.isoformat() for d in pipeline.deliveries]
    for first, second in zip(days, days[1:], strict=False):
        files = sorted(p for p in raw.glob("*/*/*") if p.parent.name in (first, second))
        if any(p.name.endswith(".gz") for p in files) and any(
            p.name.startswith("retry-") for p in files
        ):
            break
    else:
        pytest.fail("no two consecutive delivery days with a gzipped and a retry file")
    kept = next(p for p in files if p.parent.name == second and p.name.startswith("batch-"))
    doomed = [p for p in files if p != kept]
    for path in doomed:
        path.unlink()
    assert nonzero(recount(home).usage) != nonzero(pipeline.counted.usage), (
        "the deleted files held no usage: the test would prove nothing"
    )

    result = cli(home, "run", "--from", first, "--to", second)
    assert first in result.output and second in result.output
    assert_same_tables(
        before,
        published_tables(home),
        f"`run --from {first} --to {second}` after deleting {[str(p.relative_to(raw)) for p in doomed]}",
    )
