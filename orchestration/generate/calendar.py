"""The billing month being generated, when usage happens in it, and when it is delivered.

Usage is produced in chunks of consecutive event days (the previous month's tail first), so every
builder works on a bounded slice at a time and each day's file receives its lines in event order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from orchestration.generate.render import DAY_MS, HOUR_MS

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

# Relative activity per UTC hour: quiet nights, a European morning and an American afternoon.
_HOUR_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 11, 12, 12, 11, 10, 8, 7, 5, 4, 3, 2], dtype=float
)
_HOUR_P = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()
_WEEKEND_WEIGHT = 0.55

# Delivery lag in days: most usage lands on its event day, a share 1-3 days late and a thin tail
# (re-sent batches) up to 10 days late, which pushes the month's last days into the next month.
_LAG_DAYS = np.arange(11)
_LAG_P = np.array([0.90, 0.05, 0.025, 0.015] + [0.01 / 7] * 7)

PREVIOUS_MONTH_SHARE = 0.005  # units whose event lies in the previous month's last 3 days
_PREVIOUS_MONTH_DAYS = 3


@dataclass(frozen=True)
class MonthWindow:
    """A calendar month in UTC; day indexes count from its first day (negative = earlier)."""

    first_day: date
    days: int

    @classmethod
    def parse(cls, month: str) -> MonthWindow:
        """Read `YYYY-MM`; raise ValueError for anything else."""
        match = _MONTH.match(month)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"month must look like YYYY-MM, got {month!r}")
        year, mon = int(match.group(1)), int(match.group(2))
        first = date(year, mon, 1)
        following = date(year + mon // 12, mon % 12 + 1, 1)
        return cls(first, (following - first).days)

    @property
    def label(self) -> str:
        """The month as `YYYY-MM`."""
        return self.first_day.strftime("%Y-%m")

    @property
    def start_ms(self) -> int:
        """Epoch milliseconds of the month's first instant."""
        return int(datetime.combine(self.first_day, time(), tzinfo=UTC).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        """Epoch milliseconds of the next month's first instant (exclusive end)."""
        return self.start_ms + self.days * DAY_MS

    def day_start_ms(self, day: int) -> int:
        """Epoch milliseconds of 00:00Z on day index `day`."""
        return self.start_ms + day * DAY_MS

    def date_of(self, day: int) -> date:
        """Calendar date of day index `day`."""
        return self.first_day + timedelta(days=day)

    def day_of(self, ms: np.ndarray) -> np.ndarray:
        """Day index (UTC) of each instant."""
        return (ms - self.start_ms) // DAY_MS


@dataclass(frozen=True)
class Deliveries:
    """Event instants and delivery day indexes of some units, sorted by (delivery day, instant)."""

    ms: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """Units (lines, traces or sessions) whose event day lies in a run of consecutive days."""

    first_day: int  # day index of `day_counts[0]`; negative for the previous month
    day_counts: np.ndarray  # units per event day
    index: int  # position in the plan; the first chunk of the month has index 1

    @property
    def size(self) -> int:
        """Number of units in the chunk."""
        return int(self.day_counts.sum())

    @property
    def previous_month(self) -> bool:
        """True for the chunk of late arrivals from the previous month."""
        return self.first_day < 0

    def deliveries(
        self, rng: np.random.Generator, window: MonthWindow, tail_ms: int = 0
    ) -> Deliveries:
        """Event instants weighted by hour of day, and their delivery days.

        `tail_ms` keeps the last stretch before the month boundary free (the next month's start,
        or this month's for previous-month usage), so usage that starts at the instant (a trace's
        children, a session's later steps) ends on the same side of the boundary.
        """
        n = self.size
        day = np.repeat(
            np.arange(self.first_day, self.first_day + len(self.day_counts)), self.day_counts
        )
        ms = window.start_ms + day * DAY_MS + rng.choice(24, size=n, p=_HOUR_P) * HOUR_MS
        ms = ms + rng.integers(0, HOUR_MS, size=n)
        limit = window.start_ms if self.previous_month else window.end_ms
        ms = np.minimum(ms, limit - tail_ms - 1)
        if self.previous_month:
            delivery = np.maximum(day + rng.integers(1, 4, size=n), 0)
        else:
            delivery = day + rng.choice(_LAG_DAYS, size=n, p=_LAG_P)
        order = np.lexsort((ms, delivery))
        return Deliveries(ms[order], delivery[order])


def plan_chunks(
    rng: np.random.Generator, window: MonthWindow, units: int, max_units: int
) -> list[Chunk]:
    """Spread `units` over the month (fewer on weekends) plus a small previous-month share,
    grouped into chunks of consecutive days holding about `max_units` units each."""
    previous = max(1, round(units * PREVIOUS_MONTH_SHARE))
    chunks = [
        Chunk(
            -_PREVIOUS_MONTH_DAYS,
            rng.multinomial(previous, np.full(_PREVIOUS_MONTH_DAYS, 1 / _PREVIOUS_MONTH_DAYS)),
            0,
        )
    ]
    weekday = np.array([window.date_of(d).weekday() for d in range(window.days)])
    weights = np.where(weekday >= 5, _WEEKEND_WEIGHT, 1.0)
    counts = rng.multinomial(units - previous, weights / weights.sum())
    start = 0
    for day in range(window.days):
        if counts[start : day + 1].sum() >= max_units or day == window.days - 1:
            chunks.append(Chunk(start, counts[start : day + 1], len(chunks)))
            start = day + 1
    return chunks
