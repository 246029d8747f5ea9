"""`events` (SPEC 2.1): one metered product event per line."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import numpy as np
import polars as pl

from orchestration.core.meters import EVENT_METERS
from orchestration.generate.calendar import Chunk
from orchestration.generate.render import (
    DAY_MS,
    UUID_DASHES,
    TimeForm,
    decimal_table,
    dumps,
    hex_ids,
    literals,
    pick,
    quote_if,
    time_value,
    times_text,
)
from orchestration.generate.source import (
    ACCEPTED,
    BAD_QUANTITY,
    BAD_TIMESTAMP,
    CONFLICT,
    DROP,
    DUPLICATE,
    FUTURE_TIMESTAMP,
    MALFORMED_JSON,
    MISSING_TENANT,
    UNKNOWN_METER,
    SourceBuilder,
    TrapKit,
    TrapLine,
    with_fields,
)
from orchestration.generate.tenants import pick_tenants

SOURCE = "events"

METERS = EVENT_METERS
# one weight per meter, in the order of `event_meters` in dbt_project.yml
_METER_WEIGHTS = np.array([0.55, 0.15, 0.20, 0.10])
# Spellings of each meter that still normalise to it with lower(trim(...)).
_SPELLING_WEIGHTS = np.array([0.85, 0.05, 0.04, 0.03, 0.03])
_SPELLINGS = [v for m in METERS for v in (m, m.upper(), m.title(), f" {m}", f"{m}  ")]
_PRICE_TENTHS_OF_CENT = np.array([10, 20, 50, 1])  # unit_price_cents x 10, per meter
_PRICE_TEXT = ("1", "2", "5", "0.1")
_QUANTITY_AS_STRING = 0.2
_MAX_QUANTITY_X100 = 50_001  # storage_mb up to 500.00; voice_minute up to 30 minutes
_MAX_TOTAL_MILLICENTS = 60_001  # 30 voice minutes x 2 cents

_FORMS = np.array(
    [
        TimeForm.ISO_Z,
        TimeForm.ISO_Z_MILLIS,
        TimeForm.ISO_OFFSET,
        TimeForm.ISO_NAIVE,
        TimeForm.SPACE,
        TimeForm.SPACE_MILLIS,
        TimeForm.EPOCH_MILLIS,
    ]
)
_FORM_WEIGHTS = np.array([0.45, 0.15, 0.10, 0.10, 0.08, 0.04, 0.08])

# metadata = head + number + tail; (meter, head, tail, low, high) with the number in [low, high).
_METADATA = (
    (0, '{"operation":"chat_completion","model":"gpt-4o-mini","tokens":', "}", 16, 4000),
    (0, '{"operation":"chat_completion","model":"claude-sonnet-4-5","tokens":', "}", 16, 8000),
    (0, '{"operation":"webhook","retries":', "}", 0, 4),
    (1, '{"operation":"voice_to_text","audioSize":', "}", 10_000, 9_000_000),
    (1, '{"operation":"text_to_speech","characters":', ',"voice":"alloy"}', 40, 6000),
    (2, '{"operation":"semantic_search","topK":', ',"model":"text-embedding-3-small"}', 3, 21),
    (3, '{"operation":"upload","bytes":', ',"fileType":"pdf"}', 1_000, 500_000_000),
)


class EventsBuilder(SourceBuilder):
    """Regular event lines and the event traps."""

    source = SOURCE

    def chunk_rows(self, chunk: Chunk) -> pl.DataFrame:
        """One chunk of event lines (see `SourceBuilder`)."""
        rng, n = self.rng, chunk.size
        deliveries = chunk.deliveries(rng, self.window)
        tenant = pick_tenants(rng, len(self.roster), n, cover=chunk.index == 1)
        meter = rng.choice(len(METERS), size=n, p=_METER_WEIGHTS)
        spelling = meter * 5 + rng.choice(5, size=n, p=_SPELLING_WEIGHTS)
        quantity = _quantities_x100(rng, meter)
        metadata = _metadata_kinds(rng, meter)
        low = np.array([m[3] for m in _METADATA])[metadata]
        high = np.array([m[4] for m in _METADATA])[metadata]
        frame = pl.DataFrame(
            {
                "day": deliveries.day,
                "id": hex_ids(rng, n, 16, UUID_DASHES),
                "tenant": pick(literals(self.roster), tenant),
                "event_type": pick(literals(_SPELLINGS), spelling),
                "quantity": pick(decimal_table(_MAX_QUANTITY_X100, 2), quantity),
                "q_string": rng.random(n) < _QUANTITY_AS_STRING,
                "price": pick(_PRICE_TEXT, meter),
                "total": pick(
                    decimal_table(_MAX_TOTAL_MILLICENTS, 3),
                    quantity * _PRICE_TENTHS_OF_CENT[meter],
                ),
                "meta_head": pick([m[1] for m in _METADATA], metadata),
                "meta_num": rng.integers(low, high),
                "meta_tail": pick([m[2] for m in _METADATA], metadata),
                "created_at": times_text(
                    deliveries.ms, rng.choice(_FORMS, size=n, p=_FORM_WEIGHTS)
                ),
            }
        )
        quote = quote_if(pl.col("q_string"))
        text = pl.concat_str(
            [
                pl.lit('{"id":"'),
                pl.col("id"),
                pl.lit('","business_id":'),
                pl.col("tenant"),
                pl.lit(',"event_type":'),
                pl.col("event_type"),
                pl.lit(',"quantity":'),
                quote,
                pl.col("quantity"),
                quote,
                pl.lit(',"unit_price_cents":'),
                pl.col("price"),
                pl.lit(',"total_cost_cents":'),
                pl.col("total"),
                pl.lit(',"metadata":'),
                pl.col("meta_head"),
                pl.col("meta_num").cast(pl.String),
                pl.col("meta_tail"),
                pl.lit(',"created_at":'),
                pl.col("created_at"),
                pl.lit("}\n"),
            ],
            ignore_nulls=True,
        )
        rows = frame.select("day", text.alias("text"))
        self.count_regular(chunk, deliveries.day, n, Counter({ACCEPTED: n}))
        self.keep_samples(chunk, deliveries.day, np.arange(n + 1), rows["text"])
        return rows

    def trap_lines(self, kit: TrapKit) -> list[TrapLine]:
        """Duplicates, conflicts, keyless lines and every quarantine reason (docs/generator.md)."""
        return _event_traps(kit)


def _quantities_x100(rng: np.random.Generator, meter: np.ndarray) -> np.ndarray:
    """Quantity x 100 per meter: calls of 1 (sometimes 2-5), quarter minutes, queries, MB."""
    n = len(meter)
    calls = np.where(rng.random(n) < 0.9, 1, rng.integers(2, 6, size=n)) * 100
    minutes = rng.integers(1, 121, size=n) * 25
    megabytes = rng.integers(1, 50_001, size=n)
    return np.choose(meter, [calls, minutes, np.full(n, 100), megabytes]).astype(np.int64)


def _metadata_kinds(rng: np.random.Generator, meter: np.ndarray) -> np.ndarray:
    """Index into `_METADATA` matching each event's meter."""
    kinds = np.empty(len(meter), dtype=np.int64)
    for m in range(len(METERS)):
        rows = np.flatnonzero(meter == m)
        options = [k for k, entry in enumerate(_METADATA) if entry[0] == m]
        kinds[rows] = rng.choice(options, size=len(rows))
    return kinds


def _event(kit: TrapKit, day: int, **fields: object) -> dict[str, object]:
    """A plausible api_call event on day index `day`, with `fields` replaced (`DROP` removes)."""
    event: dict[str, object] = {
        "id": _uuid(kit),
        "business_id": kit.tenant(),
        "event_type": "api_call",
        "quantity": 1,
        "unit_price_cents": 1,
        "total_cost_cents": 1,
        "metadata": {"operation": "chat_completion", "model": "gpt-4o-mini", "tokens": 256},
        "created_at": time_value(kit.moment(day), TimeForm.ISO_Z),
    }
    return with_fields(event, fields)


def _uuid(kit: TrapKit) -> str:
    """A random UUID-looking id."""
    h = kit.hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _bumped(quantity: object) -> object:
    """A different quantity of the same JSON type (a conflicting re-delivery)."""
    changed = Decimal(str(quantity)) + 1
    return str(changed) if isinstance(quantity, str) else json.loads(str(changed))


def _event_traps(kit: TrapKit) -> list[TrapLine]:
    """The hand-made `events` lines."""
    s, traps = kit.scale, []

    def add(kind: str, day: int, event: object, *outcomes: str) -> None:
        traps.append(TrapLine(kind, day, dumps(event), outcomes))

    originals = kit.originals(3 * s)
    for i, (day, text) in enumerate(originals[: 2 * s]):
        # Half re-delivered the same day in another file, half one to three days later.
        later = 0 if i % 2 == 0 else int(kit.rng.integers(1, 4))
        traps.append(TrapLine("duplicate", day + later, text, (DUPLICATE,)))
    for day, text in originals[2 * s :]:
        event = json.loads(text)
        event["quantity"] = _bumped(event["quantity"])
        add("conflict", day + 1, event, CONFLICT)

    for _ in range(s):
        day = kit.day()
        keyless = _event(kit, day, id=DROP)
        add("keyless_duplicate", day, keyless, ACCEPTED)
        add("keyless_duplicate", day + 1, keyless, DUPLICATE)
        # A bad item never claims its key: the corrected line a day later is accepted.
        fixed = _event(kit, day)
        add("quarantined_then_fixed", day, {**fixed, "quantity": -1}, BAD_QUANTITY)
        add("quarantined_then_fixed", day + 1, fixed, ACCEPTED)

        day = kit.fresh_day()
        cut = dumps(_event(kit, day))[:90]
        traps.append(TrapLine("truncated_line", day, cut, (MALFORMED_JSON,), truncated=True))
        add("non_object_line", kit.day(), ["api_call", 1], MALFORMED_JSON)
        for tenant in (DROP, None, ""):
            day = kit.day()
            add("missing_tenant", day, _event(kit, day, business_id=tenant), MISSING_TENANT)
        for bad in ("yesterday", f"{kit.window.label}-32T10:00:00Z"):
            day = kit.day()
            add("bad_timestamp", day, _event(kit, day, created_at=bad), BAD_TIMESTAMP)

        day = kit.day()
        boundary = time_value(kit.window.day_start_ms(day + 2), TimeForm.ISO_Z)
        add("future_timestamp", day, _event(kit, day, created_at=boundary), FUTURE_TIMESTAMP)
        far = time_value(kit.window.day_start_ms(day + 40), TimeForm.ISO_Z)
        add("future_timestamp", day, _event(kit, day, created_at=far), FUTURE_TIMESTAMP)
        just_before = time_value(kit.window.day_start_ms(day + 2) - 1, TimeForm.ISO_Z_MILLIS)
        add("future_boundary_ok", day, _event(kit, day, created_at=just_before), ACCEPTED)

        for meter in ("video_minute", "api call"):
            day = kit.day()
            add("unknown_meter", day, _event(kit, day, event_type=meter), UNKNOWN_METER)
        for quantity in (-1, "-2.5", "abc", "NaN", "Infinity"):
            day = kit.day()
            add("bad_quantity", day, _event(kit, day, quantity=quantity), BAD_QUANTITY)

        # Several faults at once: the first reason in SPEC order wins.
        day = kit.day()
        add("precedence", day, _event(kit, day, business_id=DROP, quantity=-3), MISSING_TENANT)
        day = kit.day()
        event = _event(kit, day, created_at="soon", event_type="video_minute")
        add("precedence", day, event, BAD_TIMESTAMP)
        day = kit.day()
        far = time_value(kit.window.day_start_ms(day) + 9 * DAY_MS, TimeForm.ISO_Z)
        add("precedence", day, _event(kit, day, created_at=far, quantity="x"), FUTURE_TIMESTAMP)
        day = kit.day()
        event = _event(kit, day, event_type="video_minute", quantity="NaN")
        add("precedence", day, event, UNKNOWN_METER)
    return traps
