"""Hostile raw lines for the fuzz tests: sample lines of every source with values, keys or bytes
mutated, and arbitrary bytes. Driven by a `random.Random`, so hypothesis (`st.randoms()`) and a
seeded end-to-end run share the same mutations."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
SOURCES = ("events", "usage_logs", "traces", "sessions")

# Values that broke billing before (issue 11) and their neighbours.
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    "",
    " \t ",
    "\u3000",
    "acme\u0000x",
    "x" * 257,
    ".hidden",
    "..",
    "t" * 246,
    "租" * 28,
    "\U0001f600" * 21,
    "epoch",
    "infinity",
    "-infinity",
    "2026-02-30T00:00:00Z",
    "2026-10-03T12:00:00+25:00",
    "1999-12-31T23:59:59Z",
    "2026-10-03T12:00:00Z",
    "1791029400000",
    -1,
    0,
    1e-20,
    1.5e-12,
    1e300,
    "NaN",
    "-0",
    "99999999999999999999999999",
    10**15,
    10**15 + 1,
    2**63,
    -(2**63),
    "1e400",
    {"_seconds": -62135596800, "_nanoseconds": 0},
    {"_seconds": 1791029000, "_nanoseconds": "x"},
    [],
    {},
]
RAW_NUMBERS = [
    "99999999999999999999999999",
    "123456.123456789012345678",
    "1e-20",
    "-0.0000000000001",
    "1E+400",
    "1000000000000000.0000000000001",
]


def sample_lines(source: str) -> list[str]:
    return [line for line in (SAMPLES / f"{source}.jsonl").read_text().splitlines() if line]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside parsed JSON (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _set(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


def _delete(document: Any, path: tuple) -> Any:
    if not path:
        return document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return document


def mutate(rng: random.Random, line: str) -> bytes:
    """One hostile variant of a sample line."""
    kind = rng.randrange(7)
    if kind == 0:  # arbitrary bytes (no newline: one line)
        return bytes(b for b in rng.randbytes(rng.randrange(1, 200)) if b != 0x0A)
    if kind == 1:  # byte-level edits of the text
        data = bytearray(line.encode())
        for _ in range(rng.randrange(1, 6)):
            position = rng.randrange(len(data) + 1)
            edit = rng.randrange(3)
            if edit == 0 and position < len(data):
                del data[position]
            elif edit == 1:
                data.insert(position, rng.choice(b'{}[]",:0123456789e-.\\ \x00\xff'))
            elif position < len(data):
                data[position] = rng.randrange(256)
        return bytes(b for b in data if b != 0x0A)
    try:
        document = json.loads(line)
    except json.JSONDecodeError:  # a sample line that is broken on purpose
        return mutate(rng, line) if kind > 1 else line.encode()
    paths = _paths(document)
    path = rng.choice(paths)
    if kind == 2 and path:
        document = _delete(document, path)
    elif kind in (3, 4):  # deep nesting, or a raw number text JSON encoders would not write
        if kind == 3:
            depth = rng.choice([63, 64, 65, 1000, 10_000])
            replacement = "[" * depth + "]" * depth
        else:
            replacement = rng.choice(RAW_NUMBERS)
        marker = "\u0001splice\u0001"
        text = json.dumps(_set(document, path, marker), ensure_ascii=False)
        return text.replace(json.dumps(marker), replacement).encode()
    else:
        for _ in range(rng.randrange(1, 4)):
            path = rng.choice(_paths(document))
            value = rng.choice(HOSTILE_VALUES)
            document = _set(document, path, json.loads(json.dumps(value)))
    return json.dumps(document, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def hostile_file(rng: random.Random, source: str, lines: int) -> bytes:
    """A raw file of mutated and intact sample lines, sometimes with a BOM."""
    samples = sample_lines(source)
    out = []
    for _ in range(lines):
        line = rng.choice(samples)
        out.append(mutate(rng, line) if rng.random() < 0.8 else line.encode())
    data = b"\n".join(out) + b"\n"
    return (b"\xef\xbb\xbf" + data) if rng.random() < 0.2 else data
