"""Vectorised JSON text fragments: random ids, exact decimals, timestamps, string literals.

Everything here turns numpy/Polars columns into pieces of JSON text without a Python loop per
value; the source builders glue the pieces into whole lines with `pl.concat_str`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import IntEnum
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)
UUID_DASHES = (8, 12, 16, 20)


def fixed_width_text(chars: np.ndarray) -> pl.Series:
    """A String series from an (n, width) array of ASCII bytes, one row per value."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.from_arrow(array)


def hex_ids(
    rng: np.random.Generator, n: int, nbytes: int, dashes: tuple[int, ...] = ()
) -> pl.Series:
    """`n` random lower-case hex ids of `nbytes` bytes (OTLP trace/span id style).

    `dashes` lists the hex positions a dash follows (`UUID_DASHES` gives the UUID layout).
    """
    pairs = _HEX_PAIRS[np.frombuffer(rng.bytes(n * nbytes), dtype=np.uint8)]
    chars = pairs.view(np.uint8).reshape(n, 2 * nbytes)
    if dashes:
        spaced = np.full((n, 2 * nbytes + len(dashes)), ord("-"), dtype=np.uint8)
        bounds = (0, *dashes, 2 * nbytes)
        for shift, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
            spaced[:, a + shift : b + shift] = chars[:, a:b]
        chars = spaced
    return fixed_width_text(chars)


def decimal_str(units: int, scale: int) -> str:
    """Exact decimal text of `units / 10**scale` (units >= 0), without trailing zeros."""
    whole, fraction = divmod(units, 10**scale)
    return str(whole) if fraction == 0 else f"{whole}.{fraction:0{scale}d}".rstrip("0")


@cache
def decimal_table(limit: int, scale: int) -> pl.Series:
    """`decimal_str` of every units value in [0, limit), for `pick` on bounded quantities."""
    return pl.Series([decimal_str(u, scale) for u in range(limit)], dtype=pl.String)


def decimal_text(units: pl.Expr, scale: int) -> pl.Expr:
    """`decimal_str` as an expression, for unbounded values (slower than `decimal_table`)."""
    base = 10**scale
    fraction = (units % base).cast(pl.String).str.zfill(scale).str.strip_chars_end("0")
    whole = (units // base).cast(pl.String)
    return pl.concat_str([whole, pl.lit("."), fraction]).str.strip_suffix(".")


def quote_if(flag: pl.Expr) -> pl.Expr:
    """A `"` where `flag` is true, else null: put it on both sides of a value inside a
    `concat_str(..., ignore_nulls=True)` to write that value as a JSON string (numeric strings)."""
    return pl.when(flag).then(pl.lit('"'))


def literals(values: Sequence[str]) -> pl.Series:
    """JSON string literals (escaped, quoted, UTF-8 kept) for a small lookup table."""
    return pl.Series([json.dumps(v, ensure_ascii=False) for v in values], dtype=pl.String)


def pick(table: Sequence[str] | pl.Series, index: np.ndarray) -> pl.Series:
    """Look `index` up in a small table of text fragments."""
    series = table if isinstance(table, pl.Series) else pl.Series(list(table), dtype=pl.String)
    return series.gather(index)


def dumps(value: object) -> str:
    """Compact JSON text as the producers write it (used for the Python-built trap lines)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class TimeForm(IntEnum):
    """The timestamp spellings of SPEC section 2 (OTLP nanos live in the traces builder)."""

    ISO_Z = 0  # "2026-10-03T12:00:00Z"
    ISO_Z_MILLIS = 1  # "2026-10-03T12:00:00.250Z"
    ISO_OFFSET = 2  # "2026-10-03T14:00:00+02:00"
    ISO_NAIVE = 3  # "2026-10-03T12:00:00" (= UTC)
    SPACE = 4  # "2026-10-03 12:00:00" (= UTC)
    SPACE_MILLIS = 5  # "2026-10-03 12:00:00.250" (= UTC)
    EPOCH_MILLIS = 6  # 1791029400000
    FIRESTORE = 7  # {"_seconds": s, "_nanoseconds": n}
    FIRESTORE_PROTO = 8  # {"seconds": s, "nanos": n}


# Offsets used for ISO_OFFSET, picked from the instant itself so no random draw is needed.
_OFFSETS = ((120, "+02:00"), (-300, "-05:00"), (330, "+05:30"), (540, "+09:00"), (-210, "-03:30"))

_STRFTIME = {
    TimeForm.ISO_Z: '"%Y-%m-%dT%H:%M:%SZ"',
    TimeForm.ISO_Z_MILLIS: '"%Y-%m-%dT%H:%M:%S%.3fZ"',
    TimeForm.ISO_NAIVE: '"%Y-%m-%dT%H:%M:%S"',
    TimeForm.SPACE: '"%Y-%m-%d %H:%M:%S"',
    TimeForm.SPACE_MILLIS: '"%Y-%m-%d %H:%M:%S%.3f"',
}


def time_text(ms: np.ndarray, form: TimeForm) -> pl.Series:
    """JSON value (string, number or object) of UTC instants `ms` written in one `form`."""
    col = pl.Series(ms, dtype=pl.Int64)
    if form in _STRFTIME:
        return col.cast(pl.Datetime("ms")).dt.to_string(_STRFTIME[form])
    if form is TimeForm.EPOCH_MILLIS:
        return col.cast(pl.String)
    if form in (TimeForm.FIRESTORE, TimeForm.FIRESTORE_PROTO):
        names = ("_seconds", "_nanoseconds") if form is TimeForm.FIRESTORE else ("seconds", "nanos")
        return pl.select(
            pl.concat_str(
                [
                    pl.lit(f'{{"{names[0]}":'),
                    (col // 1000).cast(pl.String),
                    pl.lit(f',"{names[1]}":'),
                    ((col % 1000) * 1_000_000).cast(pl.String),
                    pl.lit("}"),
                ]
            )
        ).to_series()
    choice = (ms // 1000) % len(_OFFSETS)
    minutes = np.array([m for m, _ in _OFFSETS], dtype=np.int64)[choice]
    local = pl.Series(ms + minutes * 60_000, dtype=pl.Int64).cast(pl.Datetime("ms"))
    suffix = pick([s + '"' for _, s in _OFFSETS], choice)
    return local.dt.to_string('"%Y-%m-%dT%H:%M:%S') + suffix


def times_text(ms: np.ndarray, forms: np.ndarray) -> pl.Series:
    """JSON values of instants `ms`, row i written in form `forms[i]` (a `TimeForm` code)."""
    parts = []
    for code in np.unique(forms):
        rows = np.flatnonzero(forms == code)
        parts.append(pl.DataFrame({"row": rows, "text": time_text(ms[rows], TimeForm(int(code)))}))
    return pl.concat(parts).sort("row")["text"]


def time_value(ms: int, form: TimeForm) -> object:
    """One instant as the Python value `json.dumps` writes in `form` (for trap lines)."""
    return json.loads(time_text(np.array([ms], dtype=np.int64), form)[0])
