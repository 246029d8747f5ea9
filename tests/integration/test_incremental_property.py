"""Property (SPEC 9): whatever the order in which deliveries arrive and are built, the incremental
warehouse equals a full refresh of the same bronze, row for row, and both equal the SPEC-2 recount.

Each example ingests the delivery days one at a time in a random order and builds after each
(incremental dbt runs), with random extra events between builds: a file that appears later in an
older delivery folder (resends of test_delivery_order_property), a changed model price, a build
with nothing new, raw files deleted by retention. Then every analyst table is snapshotted, the
same home is rebuilt with --full-refresh, and the two must be identical (EXCEPT ALL both ways).

A build costs a dbt run (~5 s here), so the examples are few; every example checks ~6 builds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st
from meterline_harness import Home, ingest_audit, monthly_usage
from test_delivery_order_property import ADVERSARIAL, DAYS, Plan, files_of, plans, reference

from orchestration.defs.publish.publish import PUBLISHED_TABLES

pytestmark = pytest.mark.slow

DEFAULT_CATALOG = (
    Path(__file__).resolve().parents[2] / "orchestration" / "billing" / "default_catalog.yml"
).read_text()


def catalog_pricing_m(input_price: str) -> str:
    """The default catalog plus a price for the pool's model `m` (its items become `catalog`)."""
    entry = (
        f'  - {{model: m, effective_from: 2026-01-01, input_per_million: "{input_price}", '
        'output_per_million: "2.00"}\n'
    )
    return DEFAULT_CATALOG.replace("model_prices:\n", "model_prices:\n" + entry, 1)


EVENTS = st.sampled_from(["nothing_new", "reprice", "delete_raw_of_built_day", "none"])


def snapshot(home: Home, into: Path) -> None:
    """Copy every analyst table of the build warehouse into a DuckDB file of its own."""
    con = duckdb.connect(str(into))
    try:
        con.execute(f"ATTACH '{home.warehouse}' AS build (READ_ONLY)")
        for table in PUBLISHED_TABLES:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM build.main.{table}")
    finally:
        con.close()


def differences(home: Home, snapshot_file: Path) -> dict[str, tuple[int, int]]:
    """Per table: rows only in the incremental snapshot, rows only in the full refresh."""
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        con.execute(f"ATTACH '{snapshot_file}' AS incremental (READ_ONLY)")
        out = {}
        for table in PUBLISHED_TABLES:
            only_incremental = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM incremental.main.{table} "
                f"EXCEPT ALL SELECT * FROM main.{table})"
            ).fetchone()[0]
            only_full = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM main.{table} "
                f"EXCEPT ALL SELECT * FROM incremental.main.{table})"
            ).fetchone()[0]
            if only_incremental or only_full:
                out[table] = (only_incremental, only_full)
        return out
    finally:
        con.close()


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(
    plan=ADVERSARIAL, events=["reprice", "delete_raw_of_built_day", "none", "nothing_new", "none"]
)
@given(plan=plans(), events=st.lists(EVENTS, min_size=len(DAYS), max_size=len(DAYS)))
def test_incremental_builds_equal_a_full_refresh_whatever_the_delivery_order(
    plan: Plan, events: list[str]
):
    files = files_of(plan)
    note(f"plan: {plan}\nevents: {events}")
    expected_usage, expected_audit = reference(files)
    with tempfile.TemporaryDirectory(prefix="meterline-incr-") as tmp:
        home = Home(Path(tmp))
        for (source, day, name), lines in files.items():
            home.deliver(source, day, name, lines, gz=name.endswith(".gz"))
        price = "1.00"
        built_days = []
        for index, event in zip(plan.ingest_order, events, strict=True):
            home.ingest(DAYS[index])
            built_days.append(DAYS[index])
            home.dbt_run()
            if event == "nothing_new":
                home.dbt_run()
            elif event == "reprice":
                price = "3.00" if price == "1.00" else "1.00"
                home.write_catalog(catalog_pricing_m(price))
                home.dbt_run()
            elif event == "delete_raw_of_built_day":
                # retention: bronze keeps what was ingested, so nothing may change
                for folder in home.raw.glob(f"*/{built_days[0].isoformat()}"):
                    shutil.rmtree(folder)
                home.dbt_run()

        # the incremental result is the SPEC-2 recount ...
        assert monthly_usage(home) == expected_usage
        assert ingest_audit(home) == expected_audit
        incremental = Path(tmp) / "incremental.duckdb"
        snapshot(home, incremental)

        # ... and a full refresh of the same bronze, row for row, in every analyst table
        home.dbt_run(full_refresh=True)
        assert differences(home, incremental) == {}
