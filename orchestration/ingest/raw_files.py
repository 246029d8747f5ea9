"""The raw landing zone: `raw/<source>/<delivery-date>/<name>.jsonl[.gz]`, read line by line."""

from __future__ import annotations

import hashlib
import re
import zlib
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
    """The file's content, decompressed when it ends in `.gz`.

    A truncated or corrupt gzip stream is not fatal: what decompresses is returned (its cut last
    line is then malformed JSON), and a file that is not gzip at all is returned as it is, so its
    lines are quarantined instead of failing the whole delivery.
    """
    data = path.read_bytes()
    if not path.name.endswith(".gz"):
        return data
    out = bytearray()
    stream = data
    while stream:
        decompressor = zlib.decompressobj(wbits=31)  # gzip header; members are concatenated
        try:
            out += decompressor.decompress(stream)
        except zlib.error:
            return bytes(out) if out else data
        if not decompressor.eof:
            return bytes(out)  # truncated: keep what arrived
        stream = decompressor.unused_data
    return bytes(out)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_lines(data: bytes) -> tuple[pa.Table, int]:
    """Split a raw file into numbered lines.

    Returns a table (line_number, raw, utf8_ok) of the non-blank lines and the count of all lines
    read. A line that is not valid UTF-8 keeps its text (invalid bytes replaced) and is flagged,
    so it is quarantined as malformed instead of being read with replacement characters.
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line does not start another
    try:
        texts = data.decode("utf-8").split("\n")[: len(lines)]
        utf8_ok = [True] * len(lines)
    except UnicodeDecodeError:
        texts, utf8_ok = [], []
        for line in lines:
            try:
                texts.append(line.decode("utf-8"))
                utf8_ok.append(True)
            except UnicodeDecodeError:
                texts.append(line.decode("utf-8", errors="replace"))
                utf8_ok.append(False)
    keep = [i for i, text in enumerate(texts) if text.strip()]
    table = pa.table(
        {
            "line_number": pa.array([i + 1 for i in keep], pa.int64()),
            "raw": pa.array([texts[i].rstrip("\r") for i in keep], pa.string()),
            "utf8_ok": pa.array([utf8_ok[i] for i in keep], pa.bool_()),
        }
    )
    return table, len(lines)
