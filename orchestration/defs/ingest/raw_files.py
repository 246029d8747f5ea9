"""The raw landing zone: `raw/<source>/<delivery-date>/<name>.jsonl[.gz]`, read line by line."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator
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


# How much of a raw file is read at a time, and how many bytes of whole lines are typed at a
# time: memory stays the same however large a delivered file is.
READ_BYTES = 8 * 2**20
CHUNK_BYTES = 32 * 2**20
UTF8_BOM = b"\xef\xbb\xbf"


def iter_content(path: Path) -> Iterator[bytes]:
    """The file's content piece by piece, decompressed when its name ends in `.gz`.

    A truncated or corrupt gzip stream is not fatal: what decompresses is kept (its cut last
    line is then malformed JSON), and a file that is not gzip at all is read as it is, so its
    lines are quarantined instead of failing the whole delivery. Gzip members may be
    concatenated.
    """
    with path.open("rb") as raw:
        pieces = iter(lambda: raw.read(READ_BYTES), b"")
        if not path.name.endswith(".gz"):
            yield from pieces
            return
        decompressor = zlib.decompressobj(wbits=31)  # gzip header
        produced = False
        read_so_far: list[bytes] = []  # kept until something decompresses, for a non-gzip file
        for piece in pieces:
            if not produced:
                read_so_far.append(piece)
            stream = piece
            while stream:
                try:
                    out = decompressor.decompress(stream)
                except zlib.error:
                    if not produced:  # not gzip at all: the bytes as they are
                        yield from read_so_far
                        yield from pieces
                    return  # corrupt after good data: keep what decompressed
                if out:
                    produced = True
                    read_so_far.clear()
                    yield out
                if not decompressor.eof:
                    break  # needs the next piece
                stream = decompressor.unused_data  # the next gzip member, if any
                decompressor = zlib.decompressobj(wbits=31)
        # end of file: a member cut short (truncated) keeps what arrived


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's (decompressed) content."""
    digest = hashlib.sha256()
    for piece in iter_content(path):
        digest.update(piece)
    return digest.hexdigest()


def iter_line_tables(
    pieces: Iterable[bytes], chunk_bytes: int | None = None
) -> Iterator[tuple[pa.Table, int]]:
    """The numbered lines of the content in `pieces`, as tables of about `chunk_bytes` (default
    CHUNK_BYTES) of whole lines each (see `split_lines`), with the count of lines each covers.
    Yields at least one table, empty for empty content. A UTF-8 byte-order mark at the start of
    the content is not part of the first line (SPEC 2)."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    buffer = b""
    first_line = 1
    yielded = False
    bom_checked = False
    for piece in pieces:
        buffer += piece
        if not bom_checked and len(buffer) >= len(UTF8_BOM):
            buffer = buffer.removeprefix(UTF8_BOM)
            bom_checked = True
        if len(buffer) < chunk_bytes:
            continue
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            continue  # one line longer than a chunk: read on
        table, count = split_lines(buffer[:cut], first_line)
        buffer = buffer[cut:]
        first_line += count
        yielded = True
        yield table, count
    if buffer or not yielded:
        yield split_lines(buffer, first_line)


def split_lines(data: bytes, first_line: int = 1) -> tuple[pa.Table, int]:
    """Split whole lines of a raw file into numbered lines, the first numbered `first_line`.

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
            "line_number": pa.array([i + first_line for i in keep], pa.int64()),
            "raw": pa.array([texts[i].rstrip("\r") for i in keep], pa.string()),
            "utf8_ok": pa.array([utf8_ok[i] for i in keep], pa.bool_()),
        }
    )
    return table, len(lines)
