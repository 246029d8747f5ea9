"""What every raw source builder shares: expected outcomes, trap lines and bookkeeping.

A builder yields its regular rows chunk by chunk (vectorised), then a short list of hand-made
trap lines. Alongside, it keeps exact counts of what SPEC 2.5 makes of every item it wrote, so
the summary can tell the ingestion tests precisely what to expect.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from orchestration.generate.calendar import Chunk, MonthWindow, plan_chunks
from orchestration.generate.render import HOUR_MS

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
# Quarantine reasons of SPEC 2.5, in precedence order.
MALFORMED_JSON = "malformed_json"
MISSING_TENANT = "missing_tenant"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
UNKNOWN_METER = "unknown_meter"
BAD_QUANTITY = "bad_quantity"
QUARANTINE_REASONS = (
    MALFORMED_JSON,
    MISSING_TENANT,
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    UNKNOWN_METER,
    BAD_QUANTITY,
)
OUTCOMES = (ACCEPTED, DUPLICATE, CONFLICT, *QUARANTINE_REASONS)

DROP = object()  # marks a field a trap line leaves out

# Regular items per chunk: small enough that the process keeps reusing warm memory pages.
CHUNK_ITEMS = 250_000


def trap_scale(events: int) -> int:
    """Multiplier of every trap count: 1 below 10k items, 2 at the 20k default, 4 at 1M, 5 at 10M."""
    return max(1, int(math.log10(max(events, 1))) - 2)


def with_fields(document: dict[str, object], fields: dict[str, object]) -> dict[str, object]:
    """`document` with `fields` set in place (keeping key order); a `DROP` value removes the key."""
    for key, value in fields.items():
        if value is DROP:
            document.pop(key, None)
        else:
            document[key] = value
    return document


@dataclass(frozen=True)
class TrapLine:
    """One hand-made line delivered in a day's `retry-*` file.

    `outcomes` holds what SPEC 2.5 makes of each item of the line, in order. A `truncated` line
    (a writer that died mid-line) is written last in its file, without a newline.
    """

    kind: str
    day: int
    text: str
    outcomes: tuple[str, ...]
    truncated: bool = False


class SourceBuilder(ABC):
    """Regular rows and trap lines of one raw source for one month, with their bookkeeping.

    `chunks()` yields DataFrames with columns `day` (delivery day index, ascending) and `text`.
    Concatenating the texts of one day gives that day's lines; a text carries its own newline,
    so a row may be a fragment of a line (one span of an OTLP export, one session step).
    """

    source: str  # the folder under raw/
    items_per_unit: float = 1.0  # a unit is a line, a trace or a session; see chunk_rows

    def __init__(
        self,
        rng: np.random.Generator,
        window: MonthWindow,
        roster: tuple[str, ...],
        items: int,
        scale: int,
    ) -> None:
        self.rng = rng
        self.window = window
        self.roster = roster
        self.scale = scale
        units = max(1, round(items / self.items_per_unit))
        self.plan = plan_chunks(rng, window, units, round(CHUNK_ITEMS / self.items_per_unit))
        self.lines = 0
        self.outcomes: Counter[str] = Counter()
        self.shapes: Counter[str] = Counter()  # structural traps and edge cases in regular rows
        self.trap_kinds: Counter[str] = Counter()
        self.after_month_end = 0  # items of this month delivered on or after next month's 1st
        self.previous_month = 0  # items of the previous month delivered in this month
        self.samples: list[tuple[int, str]] = []  # whole regular lines (day, text) for traps

    @abstractmethod
    def chunk_rows(self, chunk: Chunk) -> pl.DataFrame:
        """The regular rows of one chunk of the plan (and update the counts)."""

    @abstractmethod
    def trap_lines(self, kit: TrapKit) -> list[TrapLine]:
        """The hand-made trap lines of this source."""

    def chunks(self) -> Iterator[pl.DataFrame]:
        """Regular rows, chunk after chunk."""
        for chunk in self.plan:
            yield self.chunk_rows(chunk)

    def traps(self) -> list[TrapLine]:
        """Trap lines, accounted for in the counts."""
        traps = self.trap_lines(
            TrapKit(self.rng, self.window, self.roster, self.scale, self.samples)
        )
        self.lines += len(traps)
        for trap in traps:
            self.outcomes.update(trap.outcomes)
            self.trap_kinds[trap.kind] += 1
        return traps

    def count_regular(
        self, chunk: Chunk, delivery_day: np.ndarray, lines: int, outcomes: Counter[str]
    ) -> None:
        """Account for the regular items of a chunk, one `delivery_day` per item."""
        self.lines += lines
        self.outcomes.update(outcomes)
        if chunk.previous_month:
            self.previous_month += len(delivery_day)
        else:
            self.after_month_end += int(np.sum(delivery_day >= self.window.days))

    def keep_samples(
        self, chunk: Chunk, day: np.ndarray, starts: np.ndarray, text: pl.Series
    ) -> None:
        """Remember a few whole lines of this month's usage, delivered well inside the month.

        `starts` are the row positions where lines begin, plus the row count at the end.
        """
        if chunk.previous_month:
            return
        line_day = day[starts[:-1]]
        eligible = np.flatnonzero((line_day >= 1) & (line_day <= self.window.days - 5))
        take = min(len(eligible), 4 * self.scale + 4)
        for line in np.sort(self.rng.choice(eligible, size=take, replace=False)):
            rows = text.slice(int(starts[line]), int(starts[line + 1] - starts[line]))
            self.samples.append((int(line_day[line]), "".join(rows.to_list()).rstrip("\n")))

    @property
    def items(self) -> int:
        """Items of SPEC 2.5 (lines, spans or steps) written for this source."""
        return sum(self.outcomes.values())

    @property
    def trap_counts(self) -> dict[str, int]:
        """Trap lines by kind, plus structural traps and edge cases of the regular rows."""
        return dict(sorted((self.trap_kinds + self.shapes).items()))


@dataclass
class TrapKit:
    """Random choices shared by the hand-made trap lines of one source."""

    rng: np.random.Generator
    window: MonthWindow
    roster: tuple[str, ...]
    scale: int
    samples: list[tuple[int, str]]
    _truncated_days: set[int] = field(default_factory=set)

    def day(self) -> int:
        """A delivery day well inside the month (room for follow-up deliveries after it)."""
        return int(self.rng.integers(1, self.window.days - 4))

    def fresh_day(self) -> int:
        """A day no earlier `fresh_day` returned: one truncated line per retry file at most."""
        day = self.day()
        while day in self._truncated_days:
            day = self.day()
        self._truncated_days.add(day)
        return day

    def moment(self, day: int) -> int:
        """An instant (epoch ms) during the working hours of day index `day`."""
        return self.window.day_start_ms(day) + int(self.rng.integers(8 * HOUR_MS, 20 * HOUR_MS))

    def tenant(self) -> str:
        """A tenant id from the roster."""
        return self.roster[int(self.rng.integers(len(self.roster)))]

    def hex(self, nbytes: int) -> str:
        """Random lower-case hex of `nbytes` bytes."""
        return self.rng.bytes(nbytes).hex()

    def originals(self, n: int) -> list[tuple[int, str]]:
        """`n` distinct regular lines (day, text) to re-deliver or contradict."""
        chosen = self.rng.choice(len(self.samples), size=n, replace=False)
        return [self.samples[int(i)] for i in np.sort(chosen)]
