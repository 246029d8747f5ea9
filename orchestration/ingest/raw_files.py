"""The raw landing zone: `raw/<source>/<delivery-date>/<name>.jsonl[.gz]`, read line by line."""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

SOURCES = ("events", "usage_logs", "traces", "sessions")
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class RawFile:
    """One raw file of one delivery; `name` is its path relative to `raw/`."""

    source: str
    delivery_date: date
    path: Path
    name: str


def list_delivery_dates(raw_root: Path) -> list[date]:
    """Every delivery date that has a folder under any source."""
    found: set[date] = set()
    for source in SOURCES:
        base = raw_root / source
        if base.is_dir():
            found.update(
                date.fromisoformat(p.name)
                for p in base.iterdir()
                if p.is_dir() and _DATE_DIR.match(p.name)
            )
    return sorted(found)


def list_raw_files(raw_root: Path, delivery_date: date) -> list[RawFile]:
    """The raw files of one delivery date, by source then file name in byte order."""
    files = []
    for source in SOURCES:
        folder = raw_root / source / delivery_date.isoformat()
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir(), key=lambda q: q.name.encode()):
            if p.is_file() and (p.name.endswith(".jsonl") or p.name.endswith(".jsonl.gz")):
                files.append(
                    RawFile(
                        source, delivery_date, p, f"{source}/{delivery_date.isoformat()}/{p.name}"
                    )
                )
    return files


def read_raw_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it ends in `.gz`."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_lines(data: bytes) -> tuple[pa.Table, int]:
    """Split a raw file into numbered lines.

    Returns a table (line_number, raw) of the non-blank lines and the count of all lines read.
    Invalid UTF-8 is replaced, not fatal: such a line is then simply malformed JSON.
    """
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    numbers = [i + 1 for i, line in enumerate(lines) if line.strip()]
    raws = [lines[i - 1].rstrip("\r") for i in numbers]
    table = pa.table(
        {"line_number": pa.array(numbers, pa.int64()), "raw": pa.array(raws, pa.string())}
    )
    return table, len(lines)
