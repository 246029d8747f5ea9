"""`generate_month`: one billing month of raw deliveries for all four sources of SPEC 2."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from orchestration.generate.calendar import MonthWindow
from orchestration.generate.events import EventsBuilder
from orchestration.generate.landing import Landing
from orchestration.generate.sessions import SessionsBuilder
from orchestration.generate.source import OUTCOMES, SourceBuilder, trap_scale
from orchestration.generate.tenants import tenant_roster
from orchestration.generate.traces import TracesBuilder
from orchestration.generate.usage_logs import UsageLogsBuilder

# Share of the requested items per source (events lines, usage_logs lines, spans, session steps).
MIX = {"events": 0.40, "usage_logs": 0.20, "traces": 0.30, "sessions": 0.10}
MIN_EVENTS = 1_000
MAX_TENANTS = 100_000  # the month's first chunk of event lines gives each tenant usage
_BUILDERS: tuple[type[SourceBuilder], ...] = (
    EventsBuilder,
    UsageLogsBuilder,
    TracesBuilder,
    SessionsBuilder,
)


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate_month` wrote, and what SPEC 2.5 makes of it.

    Per source: `lines` written, `items` (SPEC 2.5: lines, spans, session steps; a malformed
    line is one item), `expected` items per outcome (`accepted`, `duplicate`, `conflict` and each
    quarantine reason; they add up to `items`), and `traps` by kind (trap lines, or traces and
    sessions for the structural kinds, see docs/generator.md).
    """

    month: str
    seed: int
    tenants: tuple[str, ...]
    files: tuple[Path, ...]
    lines: dict[str, int]
    items: dict[str, int]
    expected: dict[str, dict[str, int]]
    traps: dict[str, dict[str, int]]
    items_after_month_end: dict[str, int]  # this month's items delivered in the next month
    items_from_previous_month: dict[str, int]  # previous month's items delivered in this one
    first_delivery: date
    last_delivery: date

    @property
    def total_items(self) -> int:
        """Items over all sources."""
        return sum(self.items.values())


def generate_month(
    home: Path, month: str, tenants: int = 5, events: int = 20_000, seed: int = 7
) -> GenerateSummary:
    """Write realistic raw files of all four sources for `month` (`YYYY-MM`) under `home/raw/`.

    `events` is the approximate number of items over all sources (split by `MIX`, traps on top),
    `tenants` the number of distinct tenants with usage. The output is byte-identical for the
    same arguments; a re-run replaces the files of an earlier run with the same month and seed.
    Raises ValueError for a malformed month or sizes too small to hold every trap.
    """
    window = MonthWindow.parse(month)
    if events < MIN_EVENTS:
        raise ValueError(f"events must be at least {MIN_EVENTS}, got {events}")
    roster = tenant_roster(tenants)
    if tenants > min(events * MIX["events"] // 2, MAX_TENANTS):
        raise ValueError(
            f"tenants must be at most {MAX_TENANTS} and events at least 5 x tenants, "
            f"got {tenants} tenants for {events} events"
        )
    scale = trap_scale(events)
    stem = f"{window.label}-s{seed}"

    files: list[Path] = []
    reports: dict[str, SourceBuilder] = {}
    for index, builder_type in enumerate(_BUILDERS):
        source = builder_type.source
        rng = np.random.default_rng([seed, window.first_day.year, window.first_day.month, index])
        builder = builder_type(rng, window, roster, round(events * MIX[source]), scale)
        landing = Landing(Path(home), source, index, window, stem)
        files.extend(_land(builder, landing))
        reports[source] = builder

    delivery_dates = sorted({path.parent.name for path in files})
    return GenerateSummary(
        month=window.label,
        seed=seed,
        tenants=roster,
        files=tuple(files),
        lines={s: b.lines for s, b in reports.items()},
        items={s: b.items for s, b in reports.items()},
        expected={s: {o: b.outcomes[o] for o in OUTCOMES} for s, b in reports.items()},
        traps={s: b.trap_counts for s, b in reports.items()},
        items_after_month_end={s: b.after_month_end for s, b in reports.items()},
        items_from_previous_month={s: b.previous_month for s, b in reports.items()},
        first_delivery=date.fromisoformat(delivery_dates[0]),
        last_delivery=date.fromisoformat(delivery_dates[-1]),
    )


def _land(builder: SourceBuilder, landing: Landing) -> list[Path]:
    """Write a builder's regular chunks, then its trap lines; return the files written."""
    # Writing (Rust and zlib, both free of the GIL) overlaps the building of the next chunk.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = None
        for rows in builder.chunks():
            if pending is not None:
                pending.result()
            pending = writer.submit(landing.append, rows)
        if pending is not None:
            pending.result()
    landing.write_traps(builder.traps())
    return landing.close()
