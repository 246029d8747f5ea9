"""Writing deliveries into the raw landing zone: `raw/<source>/<delivery date>/<file>`.

Per source and delivery day there is one `batch-<month>-s<seed>.jsonl` (gzipped on every
seventh day) with the regular lines, and on some days a small `retry-<month>-s<seed>.jsonl`
with the trap lines; `batch` sorts before `retry`, so a re-delivery on the same day comes
second. Gzip output is written with mtime 0, so a run is byte-for-byte reproducible.
"""

from __future__ import annotations

import io
import zlib
from itertools import groupby
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from orchestration.generate.calendar import MonthWindow
from orchestration.generate.source import TrapLine

_GZIP_EVERY = 7  # one delivery day in seven is gzipped (which one depends on the source)
_GZIP_LEVEL = 1


class Landing:
    """The files one source writes for one month and seed (replacing an earlier such run)."""

    def __init__(self, home: Path, source: str, gzip_offset: int, window: MonthWindow, stem: str):
        self.root = home / "raw" / source
        self.window = window
        self.gzip_offset = gzip_offset
        self.batch_name = f"batch-{stem}.jsonl"
        self.retry_name = f"retry-{stem}.jsonl"
        self._open: dict[int, tuple[BinaryIO, zlib._Compress | None]] = {}
        self.paths: list[Path] = []
        self._remove_earlier_run()

    def _remove_earlier_run(self) -> None:
        """Delete this month's and seed's files of an earlier run, so nothing stale remains."""
        names = (self.batch_name, self.batch_name + ".gz", self.retry_name)
        for folder in sorted(self.root.glob("*")) if self.root.is_dir() else []:
            for name in names:
                (folder / name).unlink(missing_ok=True)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _folder(self, day: int) -> Path:
        folder = self.root / self.window.date_of(day).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def append(self, rows: pl.DataFrame) -> None:
        """Append rows (columns `day`, ascending, and `text`) to each day's batch file."""
        days = rows["day"].to_numpy()
        bounds = np.flatnonzero(np.diff(days)) + 1
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(days)], strict=True):
            handle, packer = self._batch_file(int(days[start]))
            part = rows.slice(int(start), int(end - start)).select("text")
            if packer is None:
                _write_texts(part, handle)
            else:
                buffer = io.BytesIO()
                _write_texts(part, buffer)
                handle.write(packer.compress(buffer.getbuffer()))

    def _batch_file(self, day: int) -> tuple[BinaryIO, zlib._Compress | None]:
        if day not in self._open:
            gzipped = (day + self.gzip_offset) % _GZIP_EVERY == _GZIP_EVERY - 1
            path = self._folder(day) / (self.batch_name + (".gz" if gzipped else ""))
            packer = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31) if gzipped else None
            self._open[day] = (path.open("wb"), packer)
            self.paths.append(path)
        return self._open[day]

    def write_traps(self, traps: list[TrapLine]) -> None:
        """Write each day's trap lines to its retry file (a truncated line goes last)."""
        by_day = sorted(traps, key=lambda trap: (trap.day, trap.truncated))
        for day, group in groupby(by_day, key=lambda trap: trap.day):
            lines = list(group)
            path = self._folder(day) / self.retry_name
            text = "".join(t.text + ("" if t.truncated else "\n") for t in lines)
            path.write_bytes(text.encode())
            self.paths.append(path)

    def close(self) -> list[Path]:
        """Finish every file; return the paths written, sorted."""
        for handle, packer in self._open.values():
            if packer is not None:
                handle.write(packer.flush())
            handle.close()
        self._open.clear()
        return sorted(self.paths)


def _write_texts(texts: pl.DataFrame, target: BinaryIO) -> None:
    """Write a one-column frame of ready-made texts as they are (no quoting, no separators)."""
    texts.write_csv(target, include_header=False, quote_style="never", line_terminator="")
