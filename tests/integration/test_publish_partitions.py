"""Publishing costs what changed (issue 12): month files rewritten only where the build changed,
every other file a hard link to the current version's, `marts.duckdb` views over them; still one
atomic swap, still the old version readable by an analyst who holds it open.

Each test builds a real build warehouse (DuckDB file) with the column types of the marts
(DECIMAL(38,12), TIMESTAMPTZ, DATE) and publishes it with `publish_marts` into real folders.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import orchestration.defs.publish.publish as publish
from orchestration.defs.publish.publish import publish_marts, republish_tables

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in (1, 2, 3, 4))

# Usage records: 3 per day, quantity = day of month, on Jan 1-31, Feb 1-28, Mar 1-10 (UTC), plus
# one record at 23:30 on Jan 31 in -02:00, which is Feb 1 01:30 UTC: it belongs to February.
WAREHOUSE_SQL = """
SET TimeZone = 'UTC';
CREATE TABLE fct_usage_records AS
SELECT 'r' || d.i || '-' || k.j AS record_key, 't' || k.j AS tenant_id,
       CAST(day(day) AS DECIMAL(38, 12)) AS quantity,
       CAST(day AS TIMESTAMPTZ) + INTERVAL 12 HOUR AS event_time,
       CAST(day AS DATE) + 1 AS delivery_date
FROM (SELECT i, DATE '2026-01-01' + CAST(i AS INTEGER) AS day FROM range(69) AS r(i)) AS d,
     range(3) AS k(j)
UNION ALL
SELECT 'late', 't0', 0.000000000001, TIMESTAMPTZ '2026-01-31 23:30:00-02:00', DATE '2026-02-02';
CREATE TABLE tenant_daily_usage AS
SELECT CAST(event_time AS DATE) AS usage_date, tenant_id, sum(quantity) AS quantity,
       count(*) AS record_count
FROM fct_usage_records GROUP BY ALL;
CREATE TABLE fct_trace_sessions AS
SELECT 'tr1' AS trace_id, TIMESTAMPTZ '2026-02-03 10:00:00+00' AS started_at,
       CAST(0.5 AS DECIMAL(38, 12)) AS cost_usd
UNION ALL SELECT 'no_root', NULL, NULL;
CREATE TABLE ingest_audit AS
SELECT 'events' AS source, 'events/2026-01-02/a.jsonl' AS file, DATE '2026-01-02' AS delivery_date,
       CAST(207 AS BIGINT) AS lines_read;
CREATE TABLE unpriced_usage (source VARCHAR, model VARCHAR, items BIGINT,
                             first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ);
CREATE TABLE quarantine (source VARCHAR, reason VARCHAR, delivery_date DATE);
"""
TABLES = (
    "fct_usage_records",
    "tenant_daily_usage",
    "fct_trace_sessions",
    "ingest_audit",
    "unpriced_usage",
    "quarantine",
)
# An invoice-side table computed from the published fct_usage_records, as the margin is.
MARGIN = {
    "tenant_monthly_margin": "SELECT CAST(date_trunc('month', event_time) AS DATE) AS usage_month, "
    "tenant_id, sum(quantity) AS provider_cost_usd FROM main.fct_usage_records GROUP BY ALL"
}
ALL_TABLES = (*TABLES, *MARGIN)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "build.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(WAREHOUSE_SQL)
    return path


def change(warehouse: Path, sql: str) -> None:
    """Change the build warehouse as a run would, keeping the daily mart in step."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(sql)
        con.execute(
            "CREATE OR REPLACE TABLE tenant_daily_usage AS "
            "SELECT CAST(event_time AS DATE) AS usage_date, tenant_id, sum(quantity) AS quantity, "
            "count(*) AS record_count FROM fct_usage_records GROUP BY ALL"
        )


def publish_to(warehouse: Path, published: Path, changed=None, audit=None) -> dict[str, int]:
    return publish_marts(
        warehouse, published, MARGIN, tables=TABLES, audit=audit, changed_months=changed
    )


def files(published: Path, table: str) -> dict[str, int]:
    """File name -> inode of the table's Parquet directory in the current version."""
    folder = published / "parquet" / f"{table}.parquet"
    return {p.name: p.stat().st_ino for p in sorted(folder.iterdir())}


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def assert_same_as_full_publish(published: Path, warehouse: Path, tmp_path: Path) -> None:
    """The incremental version equals a full publish of the same warehouse, row for row (EXCEPT
    ALL both ways, so duplicates count) and column type for column type, in DuckDB and Parquet."""
    full = tmp_path / f"full-{len(list(tmp_path.glob('full-*')))}"
    publish_to(warehouse, full)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{published / 'marts.duckdb'}' AS inc (READ_ONLY)")
        con.execute(f"ATTACH '{full / 'marts.duckdb'}' AS ful (READ_ONLY)")
        for table in ALL_TABLES:
            pairs = (
                (f"inc.main.{table}", f"ful.main.{table}"),
                (
                    f"read_parquet('{published}/parquet/{table}.parquet/*.parquet')",
                    f"read_parquet('{full}/parquet/{table}.parquet/*.parquet')",
                ),
            )
            for incremental, rebuilt in pairs:
                for a, b in ((incremental, rebuilt), (rebuilt, incremental)):
                    extra = con.execute(
                        f"SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})"
                    ).fetchone()[0]
                    assert extra == 0, f"{table}: {extra} rows of {a} not in {b}"
                describe = [con.execute(f"DESCRIBE FROM {t}").fetchall() for t in (a, b)]
                assert describe[0] == describe[1], table
    finally:
        con.close()


def test_only_changed_months_are_rewritten_and_the_others_are_hard_links(
    warehouse: Path, tmp_path: Path
):
    published = tmp_path / "published"
    first = publish_to(warehouse, published)
    # 69 days x 3 tenants + the late record
    assert first["fct_usage_records"] == 208
    before = {t: files(published, t) for t in ALL_TABLES}
    assert list(before["fct_usage_records"]) == ["2026-01.parquet", "2026-02.parquet",
                                                 "2026-03.parquet"]  # fmt: skip
    assert list(before["fct_trace_sessions"]) == ["2026-02.parquet", "none.parquet"]
    assert list(before["ingest_audit"]) == ["all.parquet"]

    change(warehouse, "UPDATE fct_usage_records SET quantity = quantity + 1 WHERE tenant_id = 't1' "
           "AND event_time >= '2026-02-01' AND event_time < '2026-03-01'")  # fmt: skip
    publish_to(
        warehouse,
        published,
        {"fct_usage_records": [FEB], "tenant_daily_usage": [FEB], "ingest_audit": []},
    )
    after = {t: files(published, t) for t in ALL_TABLES}

    for table in ("fct_usage_records", "tenant_daily_usage"):
        assert after[table]["2026-01.parquet"] == before[table]["2026-01.parquet"], table
        assert after[table]["2026-03.parquet"] == before[table]["2026-03.parquet"], table
        assert after[table]["2026-02.parquet"] != before[table]["2026-02.parquet"], table
    # the margin reads fct_usage_records: its February is rewritten with it, the rest linked
    margin = "tenant_monthly_margin"
    assert after[margin]["2026-02.parquet"] != before[margin]["2026-02.parquet"]
    assert after[margin]["2026-01.parquet"] == before[margin]["2026-01.parquet"]
    # a table not named is linked whole; an unpartitioned table named is rewritten
    assert after["fct_trace_sessions"] == before["fct_trace_sessions"]
    assert after["ingest_audit"] != before["ingest_audit"]

    # t1 has one record a day in February (the late record is t0's): 28 records grew by 1
    marts = published / "marts.duckdb"
    assert query(marts, "SELECT sum(quantity) FROM fct_usage_records") == [
        # 3 tenants x (1+..+31 + 1+..+28 + 1+..+10) + the late 0.000000000001 + 28
        (Decimal(3 * (496 + 406 + 55)) + Decimal("28.000000000001"),)
    ]
    assert_same_as_full_publish(published, warehouse, tmp_path)


def test_a_month_left_without_rows_disappears(warehouse: Path, tmp_path: Path):
    published = tmp_path / "published"
    publish_to(warehouse, published)
    change(warehouse, "DELETE FROM fct_usage_records WHERE event_time >= '2026-03-01'")
    publish_to(warehouse, published, {"fct_usage_records": [MAR], "tenant_daily_usage": [MAR]})
    assert list(files(published, "fct_usage_records")) == ["2026-01.parquet", "2026-02.parquet"]
    assert "2026-03.parquet" not in files(published, "tenant_monthly_margin")
    # 31 + 28 days x 3 tenants + the late record
    assert query(published / "marts.duckdb", "SELECT count(*) FROM fct_usage_records") == [(178,)]
    assert_same_as_full_publish(published, warehouse, tmp_path)


def test_a_sequence_of_incremental_publishes_equals_full_publishes(warehouse: Path, tmp_path: Path):
    published = tmp_path / "published"
    publish_to(warehouse, published)
    steps = [
        # new April records, a new month file
        ("INSERT INTO fct_usage_records VALUES ('a1', 't9', 1.5, '2026-04-02 00:00:00+00', "
         "'2026-04-03'), ('a2', 't9', 2.25, '2026-04-30 23:59:59.999999+00', '2026-05-01')",
         {"fct_usage_records": [APR], "tenant_daily_usage": [APR]}),
        # a late January record and a re-priced March one in the same run
        ("INSERT INTO fct_usage_records VALUES ('j1', 't0', 7, '2026-01-01 00:00:00+00', "
         "'2026-04-05'); UPDATE fct_usage_records SET quantity = 0 WHERE record_key = 'r60-2'",
         {"fct_usage_records": [JAN, MAR], "tenant_daily_usage": [JAN, MAR]}),
        # a trace whose root arrives: the NULL month loses its row, February gains one
        ("UPDATE fct_trace_sessions SET started_at = '2026-02-28 23:00:00+00' "
         "WHERE trace_id = 'no_root'",
         {"fct_trace_sessions": [FEB]}),
        # quarantine gets its first rows; unpriced_usage stays empty
        ("INSERT INTO quarantine VALUES ('events', 'malformed_json', '2026-03-02')",
         {"quarantine": [MAR]}),
        # nothing changed at all
        ("SELECT 1", {}),
    ]  # fmt: skip
    for sql, changed in steps:
        change(warehouse, sql)
        publish_to(warehouse, published, changed)
        assert_same_as_full_publish(published, warehouse, tmp_path)
    assert list(files(published, "fct_trace_sessions")) == ["2026-02.parquet"]
    assert list(files(published, "quarantine")) == ["2026-03.parquet"]


def test_an_analyst_holding_the_old_version_keeps_reading_the_old_numbers(
    warehouse: Path, tmp_path: Path
):
    published = tmp_path / "published"
    publish_to(warehouse, published)
    held = duckdb.connect(str(published / "marts.duckdb"), read_only=True)
    try:
        total = "SELECT sum(quantity) FROM fct_usage_records WHERE tenant_id = 't2'"
        old = held.execute(total).fetchone()[0]
        assert old == 496 + 406 + 55  # the day-of-month sums of Jan, Feb and Mar 1-10

        change(warehouse, "UPDATE fct_usage_records SET quantity = 1000 WHERE tenant_id = 't2' "
               "AND event_time < '2026-02-01'")  # fmt: skip
        publish_to(warehouse, published, {"fct_usage_records": [JAN], "tenant_daily_usage": [JAN]})
        publish_to(warehouse, published, {})  # and a second swap, nothing changed

        assert held.execute(total).fetchone()[0] == old
        # new connections see the new state: 31 January records of 1000 instead of 1..31
        assert query(published / "marts.duckdb", total) == [(old - 496 + 31 * 1000,)]
    finally:
        held.close()


def test_a_version_the_audit_refuses_leaves_the_current_one_untouched(
    warehouse: Path, tmp_path: Path
):
    published = tmp_path / "published"
    publish_to(warehouse, published)
    current = (published / "current").resolve()
    before = {t: files(published, t) for t in ALL_TABLES}

    def refuse(marts: Path) -> None:
        # the audit sees the new numbers through the new version's views
        assert query(marts, "SELECT count(*) FROM fct_usage_records") == [(207,)]
        raise RuntimeError("refused")

    change(warehouse, "DELETE FROM fct_usage_records WHERE record_key = 'late'")
    with pytest.raises(RuntimeError, match="refused"):
        publish_to(warehouse, published, {"fct_usage_records": [FEB]}, audit=refuse)
    assert (published / "current").resolve() == current
    assert sorted((published / "versions").iterdir()) == [current]
    assert {t: files(published, t) for t in ALL_TABLES} == before
    assert query(published / "marts.duckdb", "SELECT count(*) FROM fct_usage_records") == [(208,)]


def test_every_table_keeps_its_columns_and_types_even_when_empty(warehouse: Path, tmp_path: Path):
    # a `key=value` folder in the home's path must not turn into a hive column
    published = tmp_path / "team=billing" / "published"
    publish_to(warehouse, published)
    assert list(files(published, "unpriced_usage")) == ["all.parquet"]
    assert list(files(published, "quarantine")) == ["empty.parquet"]
    with duckdb.connect(str(published / "marts.duckdb"), read_only=True) as con:
        con.execute(f"ATTACH '{warehouse}' AS build (READ_ONLY)")
        for table in TABLES:
            assert (
                con.execute(f"DESCRIBE main.{table}").fetchall()
                == con.execute(f"DESCRIBE build.main.{table}").fetchall()
            ), table
        types = {r[0]: r[1] for r in con.execute("DESCRIBE main.fct_usage_records").fetchall()}
        assert types["quantity"] == "DECIMAL(38,12)"
        assert types["event_time"] == "TIMESTAMP WITH TIME ZONE"
        assert types["delivery_date"] == "DATE"
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    # the Parquet directory alone also carries the columns of the empty table
    parquet = published / "parquet" / "quarantine.parquet" / "*.parquet"
    files_only = f"DESCRIBE FROM read_parquet('{parquet}', hive_partitioning = false)"
    assert [r[:2] for r in query(published / "marts.duckdb", files_only)] == [
        ("source", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("delivery_date", "DATE"),
    ]


def test_a_changed_schema_rewrites_the_whole_table(warehouse: Path, tmp_path: Path):
    published = tmp_path / "published"
    publish_to(warehouse, published)
    before = files(published, "fct_usage_records")
    change(warehouse, "ALTER TABLE fct_usage_records ADD COLUMN cost_source VARCHAR DEFAULT 'none'")
    publish_to(warehouse, published, {})
    after = files(published, "fct_usage_records")
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
    assert query(
        published / "marts.duckdb", "SELECT DISTINCT cost_source FROM fct_usage_records"
    ) == [("none",)]
    assert_same_as_full_publish(published, warehouse, tmp_path)


def test_republish_rewrites_only_the_invoiced_month(warehouse: Path, tmp_path: Path):
    published = tmp_path / "published"
    state = tmp_path / "state"
    state.mkdir()

    def invoice_month(month: str, rows: int) -> None:
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT '{month}' AS month, 't' || i AS tenant_id, "
                f"CAST(i AS DECIMAL(38, 12)) AS quantity FROM range({rows}) AS r(i)) "
                f"TO '{state / month}.parquet'"
            )

    records = {"fct_invoice_records": f"SELECT * FROM read_parquet('{state}/*.parquet')"}
    invoice_month("2026-01", 3)
    invoice_month("2026-02", 4)
    publish_marts(warehouse, published, records, tables=TABLES)
    before = {t: files(published, t) for t in (*TABLES, "fct_invoice_records")}

    invoice_month("2026-02", 5)  # February's drafts rewritten with one more record
    counts = republish_tables(published, records, changed_months={"fct_invoice_records": [FEB]})
    assert counts == {"fct_invoice_records": 3 + 5}
    after = {t: files(published, t) for t in (*TABLES, "fct_invoice_records")}
    invoices = "fct_invoice_records"
    assert after[invoices]["2026-01.parquet"] == before[invoices]["2026-01.parquet"]
    assert after[invoices]["2026-02.parquet"] != before[invoices]["2026-02.parquet"]
    assert {t: after[t] for t in TABLES} == {t: before[t] for t in TABLES}
    assert query(
        published / "marts.duckdb",
        "SELECT month, count(*), sum(quantity) FROM fct_invoice_records GROUP BY 1 ORDER BY 1",
    ) == [("2026-01", 3, Decimal(0 + 1 + 2)), ("2026-02", 5, Decimal(0 + 1 + 2 + 3 + 4))]
    # the carried-over tables are still there, with their rows
    assert query(published / "marts.duckdb", "SELECT count(*) FROM fct_usage_records") == [(208,)]


def test_a_version_published_before_month_files_is_upgraded(warehouse: Path, tmp_path: Path):
    """A home published by the copying publish (tables in marts.duckdb, one `<table>.parquet`
    file each) republishes its carried-over tables from that marts.duckdb."""
    published = tmp_path / "published"
    legacy = published / "versions" / "20261101T000000000000Z"
    (legacy / "parquet").mkdir(parents=True)
    with duckdb.connect(str(legacy / "marts.duckdb")) as con:
        con.execute(f"ATTACH '{warehouse}' AS build (READ_ONLY)")
        for table in TABLES:
            con.execute(f"CREATE TABLE main.{table} AS FROM build.main.{table}")
            con.execute(f"COPY main.{table} TO '{legacy}/parquet/{table}.parquet'")
    for name, target in (
        ("current", "versions/20261101T000000000000Z"),
        ("marts.duckdb", "current/marts.duckdb"),
        ("parquet", "current/parquet"),
    ):
        (published / name).symlink_to(target)

    republish_tables(published, MARGIN, changed_months={"tenant_monthly_margin": [FEB]})
    assert list(files(published, "fct_usage_records")) == [
        "2026-01.parquet",
        "2026-02.parquet",
        "2026-03.parquet",
    ]
    assert_same_as_full_publish(published, warehouse, tmp_path)
    # the next publish with changed months links from the upgraded version
    before = files(published, "fct_usage_records")
    publish_to(warehouse, published, {"fct_usage_records": [MAR]})
    assert files(published, "fct_usage_records")["2026-01.parquet"] == before["2026-01.parquet"]


def test_pruning_keeps_the_last_versions_and_every_recent_one(
    warehouse: Path, tmp_path: Path, monkeypatch
):
    published = tmp_path / "published"
    for _ in range(5):
        publish_to(warehouse, published, {})
    # all five are younger than the grace period: an analyst may still be reading any of them
    assert len(list((published / "versions").iterdir())) == 5
    # once they are older than it, only the last three stay, and the current one is one of them
    monkeypatch.setattr(publish, "PRUNE_GRACE", timedelta(0))
    publish_to(warehouse, published, {})
    versions = sorted((published / "versions").iterdir())
    assert len(versions) == 3 and versions[-1] == (published / "current").resolve()
    # the files shared with a pruned version are still whole in the versions that link them
    january = published / "parquet" / "fct_usage_records.parquet" / "2026-01.parquet"
    assert os.stat(january).st_nlink == 3
    assert query(published / "marts.duckdb", "SELECT count(*) FROM fct_usage_records") == [(208,)]


def test_parquet_readers_read_a_table_directory_without_an_extra_column(
    warehouse: Path, tmp_path: Path
):
    import polars as pl
    import pyarrow.parquet as pq

    published = tmp_path / "published"
    publish_to(warehouse, published)
    folder = published / "parquet" / "fct_usage_records.parquet"
    columns = ["record_key", "tenant_id", "quantity", "event_time", "delivery_date"]
    table = pq.read_table(folder)  # flat month names: no hive column is discovered
    assert (table.num_rows, table.column_names) == (208, columns)
    assert str(table.schema.field("quantity").type) == "decimal128(38, 12)"
    assert pl.read_parquet(folder).columns == columns
    # the NULL month's rows are read with the others
    assert pq.read_table(published / "parquet" / "fct_trace_sessions.parquet").num_rows == 2
