"""Bronze is append-only: each raw file is committed once, re-runs and deletions change nothing."""

import gzip
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.bronze import (
    RawFileChangedError,
    ingest_deliveries,
    ingest_delivery,
    pending_raw_files,
)

DAY = date(2026, 10, 3)


def bronze_rows(bronze: Path, table: str) -> int:
    query = f"SELECT count(*) FROM read_parquet('{bronze}/{table}/*/*.parquet')"
    return duckdb.connect().execute(query).fetchone()[0]


def test_sample_delivery_audit_matches_the_hand_worked_counts(sample_home: Path):
    audits = {
        a.source: a for a in ingest_delivery(sample_home / "raw", sample_home / "bronze", DAY)
    }
    # shared/samples/README.md: events 6 items (2 quarantined), usage_logs 3, traces 8 spans in
    # 2 lines, sessions 4 steps in 2 lines.
    assert (
        audits["events"].lines_read,
        audits["events"].items_read,
        audits["events"].quarantined,
    ) == (6, 6, 2)
    assert (audits["usage_logs"].items_read, audits["usage_logs"].quarantined) == (3, 0)
    assert (audits["traces"].lines_read, audits["traces"].items_read) == (2, 8)
    assert (audits["sessions"].lines_read, audits["sessions"].items_read) == (2, 4)
    assert bronze_rows(sample_home / "bronze", "quarantine") == 2


def test_rerun_skips_committed_files_and_deleted_raw_files_keep_their_items(sample_home: Path):
    raw, bronze = sample_home / "raw", sample_home / "bronze"
    ingest_delivery(raw, bronze, DAY)
    before = {t: bronze_rows(bronze, t) for t in ("events", "traces", "quarantine", "files")}
    assert pending_raw_files(raw, bronze) == {}
    again = ingest_delivery(raw, bronze, DAY)
    assert all(a.skipped for a in again)
    (raw / "events" / "2026-10-03" / "events.jsonl").unlink()
    ingest_delivery(raw, bronze, DAY)
    assert {t: bronze_rows(bronze, t) for t in before} == before


def test_a_raw_file_changed_after_ingestion_is_an_error_not_a_silent_skip(sample_home: Path):
    raw, bronze = sample_home / "raw", sample_home / "bronze"
    ingest_delivery(raw, bronze, DAY)
    path = raw / "events" / "2026-10-03" / "events.jsonl"
    path.write_text(path.read_text() + '{"id": "new"}\n')
    with pytest.raises(RawFileChangedError, match="events/2026-10-03/events.jsonl"):
        ingest_delivery(raw, bronze, DAY)


def test_gzip_files_blank_lines_and_crlf(tmp_path: Path):
    folder = tmp_path / "raw" / "events" / "2026-10-03"
    folder.mkdir(parents=True)
    line = '{"id":"a","business_id":"acme","event_type":"api_call","quantity":2,"created_at":"2026-10-03T01:00:00Z"}'
    (folder / "part.jsonl.gz").write_bytes(gzip.compress(f"{line}\r\n\n{line}\r\n".encode()))
    (audit,) = ingest_delivery(tmp_path / "raw", tmp_path / "bronze", DAY)
    # 3 lines read, the blank one is not an item; both copies are usable items (dedup is in dbt)
    assert (audit.lines_read, audit.items_read, audit.quarantined) == (3, 2, 0)


def test_invalid_utf8_line_is_malformed_not_read_with_replacement_characters(tmp_path: Path):
    folder = tmp_path / "raw" / "events" / "2026-10-03"
    folder.mkdir(parents=True)
    good = b'{"id":"a","business_id":"acme","event_type":"api_call","quantity":1,"created_at":"2026-10-03T01:00:00Z"}'
    bad = good.replace(b'"acme"', b'"acme\xff"').replace(b'"a"', b'"b"')
    (folder / "part.jsonl").write_bytes(good + b"\n" + bad + b"\n")
    (audit,) = ingest_delivery(tmp_path / "raw", tmp_path / "bronze", DAY)
    assert (audit.items_read, audit.quarantined) == (2, 1)
    query = (
        f"SELECT line_number, reason FROM read_parquet('{tmp_path}/bronze/quarantine/*/*.parquet')"
    )
    assert duckdb.connect().execute(query).fetchall() == [(2, "malformed_json")]


def test_truncated_gzip_keeps_what_arrived_and_is_not_fatal(tmp_path: Path):
    folder = tmp_path / "raw" / "events" / "2026-10-03"
    folder.mkdir(parents=True)
    lines = b"".join(
        b'{"id":"gz-%d","business_id":"acme","event_type":"api_call","quantity":1,'
        b'"created_at":"2026-10-03T01:00:00Z"}\n' % i
        for i in range(200)
    )
    compressed = gzip.compress(lines)
    (folder / "cut.jsonl.gz").write_bytes(compressed[: len(compressed) // 2])
    (folder / "garbage.jsonl.gz").write_bytes(b"not gzip at all\n")
    cut, garbage = ingest_delivery(tmp_path / "raw", tmp_path / "bronze", DAY)
    # some whole lines arrived; at most the last, cut line is malformed
    assert 0 < cut.items_read < 200
    assert cut.quarantined <= 1
    assert (garbage.items_read, garbage.quarantined) == (1, 1)


def _bronze_content(bronze: Path, table: str) -> list[tuple]:
    query = (
        f"SELECT * EXCLUDE (ingested_at) FROM read_parquet('{bronze}/{table}/*/*.parquet')"
        if table == "files"
        else f"SELECT * FROM read_parquet('{bronze}/{table}/*/*.parquet')"
    )
    return sorted(duckdb.connect().execute(query).fetchall(), key=repr)


def _write_events(raw: Path, day: date, name: str, count: int) -> None:
    folder = raw / "events" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f'{{"id":"{name}-{i}","business_id":"t{i % 3}","event_type":"api_call","quantity":{i},'
        f'"created_at":"{day.isoformat()}T01:00:00Z"}}'
        for i in range(count)
    ]
    (folder / f"{name}.jsonl").write_text("\n".join([*lines, "not json"]) + "\n")


def test_files_ingested_in_parallel_commit_exactly_what_one_at_a_time_commits(tmp_path: Path):
    days = [date(2026, 10, d) for d in (3, 4, 5)]
    for raw in (tmp_path / "serial" / "raw", tmp_path / "parallel" / "raw"):
        for n, day in enumerate(days):
            for name, count in (("big", 500 + n), ("small", 3), ("mid", 40)):
                _write_events(raw, day, name, count)
    serial = ingest_deliveries(tmp_path / "serial" / "raw", tmp_path / "serial" / "bronze", days, 1)
    parallel = ingest_deliveries(
        tmp_path / "parallel" / "raw", tmp_path / "parallel" / "bronze", days, 2
    )
    # audits come back in delivery order, then file name order, whatever finished first
    assert [a.file for a in parallel] == [a.file for a in serial]
    assert [a.file for a in parallel][:3] == [
        "events/2026-10-03/big.jsonl",
        "events/2026-10-03/mid.jsonl",
        "events/2026-10-03/small.jsonl",
    ]
    assert [(a.items_read, a.quarantined) for a in parallel] == [
        (a.items_read, a.quarantined) for a in serial
    ]
    # per day n: big 500 + n, small 3, mid 40 lines, each file with one more (malformed) line
    assert sum(a.items_read for a in parallel) == 3 * (500 + 3 + 40 + 3) + (0 + 1 + 2)
    for table in ("events", "quarantine", "files"):
        assert _bronze_content(tmp_path / "parallel" / "bronze", table) == _bronze_content(
            tmp_path / "serial" / "bronze", table
        )


def test_a_changed_file_fails_a_parallel_ingest_after_the_other_files_commit(tmp_path: Path):
    raw, bronze = tmp_path / "raw", tmp_path / "bronze"
    _write_events(raw, DAY, "a", 10)
    ingest_deliveries(raw, bronze, [DAY], 2)
    _write_events(raw, DAY, "a", 11)  # changed after ingestion
    _write_events(raw, DAY, "b", 10)
    with pytest.raises(RawFileChangedError, match="events/2026-10-03/a.jsonl"):
        ingest_deliveries(raw, bronze, [DAY], 2)
    assert pending_raw_files(raw, bronze) == {}  # b.jsonl was committed all the same


def test_reading_in_small_pieces_and_chunks_commits_what_one_piece_commits(
    sample_home: Path, monkeypatch: pytest.MonkeyPatch
):
    """Large files are read and typed a chunk of whole lines at a time: cutting the file at
    other places changes nothing in bronze (line numbers, content keys, spans of a line)."""
    from orchestration.defs.ingest import raw_files

    raw, tmp_path = sample_home / "raw", sample_home
    events = raw / "events" / "2026-10-03" / "events.jsonl"
    events.write_bytes(gzip.compress(events.read_bytes()))
    events.rename(events.with_name("events.jsonl.gz"))
    whole = ingest_deliveries(raw, tmp_path / "whole", [DAY], 1)
    monkeypatch.setattr(raw_files, "READ_BYTES", 7)
    monkeypatch.setattr(raw_files, "CHUNK_BYTES", 300)
    chunked = ingest_deliveries(raw, tmp_path / "chunked", [DAY], 1)
    assert [(a.lines_read, a.items_read, a.quarantined) for a in chunked] == [
        (a.lines_read, a.items_read, a.quarantined) for a in whole
    ]
    for table in ("events", "usage_logs", "traces", "sessions", "quarantine", "files"):
        assert _bronze_content(tmp_path / "chunked", table) == _bronze_content(
            tmp_path / "whole", table
        ), table


def test_gzip_members_truncation_and_plain_bytes_read_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from orchestration.defs.ingest import raw_files

    monkeypatch.setattr(raw_files, "READ_BYTES", 5)
    two_members = tmp_path / "two.jsonl.gz"
    two_members.write_bytes(gzip.compress(b"line one\n") + gzip.compress(b"line two\n"))
    truncated = tmp_path / "cut.jsonl.gz"
    content = b"".join(f"line {i} of a file cut short\n".encode() for i in range(2000))
    truncated.write_bytes(gzip.compress(content)[:-100])
    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_bytes(b'{"not": "gzip"}\n')
    assert b"".join(raw_files.iter_content(two_members)) == b"line one\nline two\n"
    kept = b"".join(raw_files.iter_content(truncated))
    assert 0 < len(kept) < len(content) and content.startswith(kept)
    assert b"".join(raw_files.iter_content(not_gzip)) == b'{"not": "gzip"}\n'
