"""Who is billed: a stable roster of tenant ids and how usage is spread over them."""

from __future__ import annotations

import numpy as np

# Ordered: `--tenants N` takes the first N. Plain company slugs, with odd but valid ids mixed in
# early (spaces, quotes, non-ASCII, a slash, "..") so invoice file names and JSON escaping are
# exercised even at small N. Beyond the list, ids are `tenant-0042`.
NAMED_TENANTS = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "o'hare & sons",
    "hooli",
    "stark-industries",
    "wayne.enterprises",
    "zürich-rück",
    "soylent",
    "tyrell",
    "cyberdyne/eu",
    "massive-dynamic",
    "..",
    "wonka",
    'say "hi" ltd',
)


def tenant_roster(count: int) -> tuple[str, ...]:
    """The first `count` tenant ids (stable across months and seeds)."""
    if count < 1:
        raise ValueError(f"tenants must be at least 1, got {count}")
    extra = (f"tenant-{i:04d}" for i in range(len(NAMED_TENANTS), count))
    return (NAMED_TENANTS + tuple(extra))[:count]


def pick_tenants(rng: np.random.Generator, roster_size: int, n: int, cover: bool) -> np.ndarray:
    """Tenant index of `n` units, Zipf-like (the first tenants are the big customers).

    With `cover`, every tenant gets at least one of the units (the caller makes sure n is large
    enough), so each tenant of the roster receives usage.
    """
    weights = 1.0 / np.arange(1, roster_size + 1) ** 0.8
    picked = rng.choice(roster_size, size=n, p=weights / weights.sum())
    if cover:
        spots = rng.choice(n, size=roster_size, replace=False)
        picked[spots] = np.arange(roster_size)
    return picked
