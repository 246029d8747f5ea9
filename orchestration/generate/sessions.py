"""`sessions` (SPEC 2.4): session documents, re-exported as they grow.

A session is created, then collects steps (maps lookups, searches, AI replies) seconds apart.
Most sessions are exported once; some are exported first while in progress and again once
completed, the second export repeating the first one's steps (duplicates by operationId).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import polars as pl

from orchestration.generate.calendar import Chunk
from orchestration.generate.render import (
    HOUR_MS,
    TimeForm,
    decimal_table,
    dumps,
    hex_ids,
    literals,
    pick,
    time_value,
    times_text,
)
from orchestration.generate.source import (
    ACCEPTED,
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

SOURCE = "sessions"

FEATURES = ("google_maps", "assistant", "doc_summary")
_FEATURE_P = np.array([0.4, 0.4, 0.2])
# Step kinds: (AI usage?, feature, provider, cost range in 1e-5 USD [low, high), metadata head).
# A metadata head ending in ":" takes a number and a closing brace.
STEP_KINDS = (
    (False, "google_maps_autocomplete", "google_maps", (283, 284), '{"resultCount":'),
    (False, "google_maps_place_details", "google_maps", (1700, 1701), "{}"),
    (False, "google_maps_geocode", "google_maps", (500, 501), '{"resultCount":'),
    (False, "web_search", "serpapi", (1000, 1001), '{"resultCount":'),
    (True, "chat_reply", "anthropic", (200, 5000), "{}"),
    (True, "summary", "openai", (100, 3000), '{"pages":'),
)
# Step kind probabilities per session feature.
_KIND_P = np.array(
    [
        [0.5, 0.3, 0.2, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.4, 0.6, 0.0],
        [0.0, 0.0, 0.0, 0.2, 0.0, 0.8],
    ]
)
# usageType spellings: three for API usage, three for AI usage (all match case-insensitively).
_USAGE_TYPES = ("ApiUsage", "APIUsage", "apiusage", "AIUsage", "aiusage", "AiUsage")
_SPELLING_P = np.array([[0.6, 0.3, 0.1], [0.5, 0.3, 0.2]])
_META_NUMBER = np.array([k[4].endswith(":") for k in STEP_KINDS])
_STEPS_P = np.array([0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05, 0.05])  # 1..8 steps
_REEXPORTED = 0.3  # share of multi-step sessions exported in progress, then again completed
_STEP_GAP_MS = 6_000
_STEP_FORMS = np.array([TimeForm.ISO_Z_MILLIS, TimeForm.FIRESTORE, -1])  # -1: no timestamp
_STEP_FORM_P = np.array([0.75, 0.10, 0.15])
_CREATED_FORMS = np.array([TimeForm.ISO_Z_MILLIS, TimeForm.FIRESTORE_PROTO])
_CREATED_FORM_P = np.array([0.85, 0.15])
STATUSES = ("completed", "in_progress", "abandoned")
_COMPLETED, _IN_PROGRESS = 0, 1
_FINAL_STATUS_P = np.array([0.92, 0.05, 0.03])
MEAN_ITEMS_PER_SESSION = float(
    _STEPS_P @ np.arange(1, 9)
    + _REEXPORTED * sum(p * (k / 2) for k, p in enumerate(_STEPS_P, start=1) if k > 1)
)


class SessionsBuilder(SourceBuilder):
    """Regular session exports (a unit is a session) and the sessions traps."""

    source = SOURCE
    items_per_unit = MEAN_ITEMS_PER_SESSION

    def chunk_rows(self, chunk: Chunk) -> pl.DataFrame:
        """One chunk of session export lines (see `SourceBuilder`): one row per exported step."""
        rng, n, window = self.rng, chunk.size, self.window
        deliveries = chunk.deliveries(rng, window, tail_ms=HOUR_MS)
        created = deliveries.ms
        steps = rng.choice(len(_STEPS_P), size=n, p=_STEPS_P) + 1
        feature = rng.choice(len(FEATURES), size=n, p=_FEATURE_P)

        # Steps, in order within each session, seconds apart.
        session = np.repeat(np.arange(n), steps)
        first = np.cumsum(steps) - steps
        gap = rng.exponential(_STEP_GAP_MS, size=len(session)).astype(np.int64) + 200
        elapsed = np.cumsum(gap)
        step_ms = created[session] + elapsed - (elapsed[first] - gap[first])[session]
        step_text = self._step_texts(step_ms, feature[session])

        # Exports: the final one of every session, and an in-progress one before it for some.
        twice = (steps >= 2) & (rng.random(n) < _REEXPORTED)
        early_steps = np.where(twice, rng.integers(1, np.maximum(steps, 2)), steps)
        early_ms = step_ms[first + early_steps - 1]
        last_ms = step_ms[first + steps - 1]
        early_day = np.maximum(deliveries.day, window.day_of(early_ms))
        final_day = np.maximum(deliveries.day, window.day_of(last_ms))
        final_day = np.where(
            twice, np.maximum(final_day, early_day + rng.integers(0, 2, size=n)), final_day
        )
        final_status = np.where(
            twice, _COMPLETED, rng.choice(len(STATUSES), size=n, p=_FINAL_STATUS_P)
        )
        early = np.flatnonzero(twice)
        exp_session = np.r_[np.arange(n), early]
        exp_steps = np.r_[steps, early_steps[early]]
        exp_day = np.r_[final_day, early_day[early]]
        exp_repeats = np.r_[np.where(twice, early_steps, 0), np.zeros(len(early), dtype=np.int64)]
        exp_status = np.r_[final_status, np.full(len(early), _IN_PROGRESS)]
        order = np.lexsort((np.r_[last_ms, early_ms[early]], exp_day))
        exp_session, exp_steps, exp_day = exp_session[order], exp_steps[order], exp_day[order]
        exp_repeats, exp_status = exp_repeats[order], exp_status[order]
        heads = self._heads(created, feature, exp_session, exp_status)

        # Rows: the steps of every export, exports in delivery order.
        export = np.repeat(np.arange(len(order)), exp_steps)
        pos = np.arange(len(export)) - (np.cumsum(exp_steps) - exp_steps)[export]
        is_first = pos == 0
        frame = pl.DataFrame(
            {
                "day": exp_day[export],
                "head": heads.gather(pl.Series(export).scatter(np.flatnonzero(~is_first), None)),
                "is_first": is_first,
                "is_last": pos == exp_steps[export] - 1,
                "step": step_text.gather(first[exp_session[export]] + pos),
            }
        )
        text = pl.concat_str(
            [
                pl.col("head"),
                pl.when(~pl.col("is_first")).then(pl.lit(",")),
                pl.col("step"),
                pl.when(pl.col("is_last")).then(pl.lit("]}\n")),
            ],
            ignore_nulls=True,
        )
        rows = frame.select("day", text.alias("text"))
        repeats = int(exp_repeats.sum())
        outcomes = Counter({ACCEPTED: len(export) - repeats, DUPLICATE: repeats})
        self.count_regular(chunk, exp_day[export], len(order), outcomes)
        self.shapes["session_reexported"] += len(early)
        self.keep_samples(
            chunk, exp_day[export], np.r_[np.flatnonzero(is_first), len(export)], rows["text"]
        )
        return rows

    def _step_texts(self, step_ms: np.ndarray, feature: np.ndarray) -> pl.Series:
        """The JSON of every step, given its instant and its session's feature."""
        rng, total = self.rng, len(step_ms)
        kind = np.empty(total, dtype=np.int64)
        for f in range(len(FEATURES)):
            rows = np.flatnonzero(feature == f)
            kind[rows] = rng.choice(len(STEP_KINDS), size=len(rows), p=_KIND_P[f])
        is_ai = np.array([k[0] for k in STEP_KINDS])[kind]
        spelling = np.where(
            is_ai,
            3 + rng.choice(3, size=total, p=_SPELLING_P[1]),
            rng.choice(3, size=total, p=_SPELLING_P[0]),
        )
        low = np.array([k[3][0] for k in STEP_KINDS])[kind]
        high = np.array([k[3][1] for k in STEP_KINDS])[kind]
        form = rng.choice(_STEP_FORMS, size=total, p=_STEP_FORM_P)
        self.shapes["step_without_timestamp"] += int(np.sum(form < 0))
        frame = pl.DataFrame(
            {
                "op_ms": step_ms,
                "op_hex": hex_ids(rng, total, 3),
                "usage_type": pick(_USAGE_TYPES, spelling),
                "feature": pick([k[1] for k in STEP_KINDS], kind),
                "provider": pick([k[2] for k in STEP_KINDS], kind),
                "cost": pick(decimal_table(5001, 5), rng.integers(low, high)),
                "billable": is_ai & (rng.random(total) < 0.7),
                "timed": form >= 0,
                "timestamp": times_text(step_ms, np.where(form >= 0, form, TimeForm.ISO_Z)),
                "meta_head": pick([k[4] for k in STEP_KINDS], kind),
                "meta_num": np.where(_META_NUMBER[kind], rng.integers(1, 12, size=total), -1),
            }
        )
        col = pl.col
        return frame.select(
            pl.concat_str(
                [
                    pl.lit('{"operationId":"usage_'),
                    col("op_ms").cast(pl.String),
                    pl.lit("_"),
                    col("op_hex"),
                    pl.lit('","usageType":"'),
                    col("usage_type"),
                    pl.lit('","feature":"'),
                    col("feature"),
                    pl.lit('","provider":"'),
                    col("provider"),
                    pl.lit('","cost":'),
                    col("cost"),
                    pl.lit(',"isBillableRun":'),
                    pl.when(col("billable")).then(pl.lit("true")).otherwise(pl.lit("false")),
                    pl.when(col("timed")).then(
                        pl.concat_str([pl.lit(',"timestamp":'), col("timestamp")])
                    ),
                    pl.lit(',"metadata":'),
                    col("meta_head"),
                    pl.when(col("meta_num") >= 0).then(
                        pl.concat_str([col("meta_num").cast(pl.String), pl.lit("}")])
                    ),
                    pl.lit("}"),
                ],
                ignore_nulls=True,
            )
        ).to_series()

    def _heads(
        self,
        created: np.ndarray,
        feature: np.ndarray,
        exp_session: np.ndarray,
        exp_status: np.ndarray,
    ) -> pl.Series:
        """Per export, the document's opening up to its first step."""
        rng, n = self.rng, len(created)
        tenant = pick_tenants(rng, len(self.roster), n, cover=False)
        forms = rng.choice(_CREATED_FORMS, size=n, p=_CREATED_FORM_P)
        sessions = pl.DataFrame(
            {
                "created_ms": created,
                "session_hex": hex_ids(rng, n, 2),
                "tenant": pick(literals(self.roster), tenant),
                "user": hex_ids(rng, n, 4),
                "feature": pick(FEATURES, feature),
                "created_at": times_text(created, forms),
            }
        )
        exports = sessions[exp_session].with_columns(status=pick(STATUSES, exp_status))
        col = pl.col
        return exports.select(
            pl.concat_str(
                [
                    pl.lit('{"sessionId":"session_'),
                    col("created_ms").cast(pl.String),
                    pl.lit("_"),
                    col("session_hex"),
                    pl.lit('","tenantId":'),
                    col("tenant"),
                    pl.lit(',"userId":"'),
                    col("user"),
                    pl.lit('","feature":"'),
                    col("feature"),
                    pl.lit('","status":"'),
                    col("status"),
                    pl.lit('","createdAt":'),
                    col("created_at"),
                    pl.lit(',"steps":['),
                ]
            )
        ).to_series()

    def trap_lines(self, kit: TrapKit) -> list[TrapLine]:
        """Re-sent and contradicting exports, quarantined steps and an empty session."""
        return _session_traps(kit)


def _step(kit: TrapKit, at_ms: int, **fields: object) -> dict[str, object]:
    """A maps lookup step at `at_ms`, with `fields` replaced (`DROP` removes)."""
    step: dict[str, object] = {
        "operationId": f"usage_{at_ms}_{kit.hex(3)}",
        "usageType": "ApiUsage",
        "feature": "google_maps_autocomplete",
        "provider": "google_maps",
        "cost": 0.00283,
        "isBillableRun": False,
        "timestamp": time_value(at_ms, TimeForm.ISO_Z_MILLIS),
        "metadata": {"resultCount": 5},
    }
    return with_fields(step, fields)


def _session(kit: TrapKit, day: int, steps: int, **fields: object) -> dict[str, object]:
    """A maps session created on day index `day` with `steps` plain steps."""
    created = kit.moment(day)
    document: dict[str, object] = {
        "sessionId": f"session_{created}_{kit.hex(2)}",
        "tenantId": kit.tenant(),
        "userId": kit.hex(4),
        "feature": "google_maps",
        "status": "completed",
        "createdAt": time_value(created, TimeForm.ISO_Z_MILLIS),
        "steps": [_step(kit, created + 1500 * (i + 1)) for i in range(steps)],
    }
    return with_fields(document, fields)


def _session_traps(kit: TrapKit) -> list[TrapLine]:
    """The hand-made `sessions` lines."""
    s, traps = kit.scale, []

    def add(kind: str, day: int, document: object, *outcomes: str) -> None:
        traps.append(TrapLine(kind, day, dumps(document), outcomes))

    originals = kit.originals(2 * s)
    for i, (day, text) in enumerate(originals[:s]):
        steps = len(json.loads(text)["steps"])
        later = 0 if i % 2 == 0 else int(kit.rng.integers(1, 4))
        traps.append(TrapLine("duplicate", day + later, text, (DUPLICATE,) * steps))
    for day, text in originals[s:]:
        document = json.loads(text)
        document["steps"][0]["cost"] = round(document["steps"][0]["cost"] + 0.001, 5)
        outcomes = (CONFLICT,) + (DUPLICATE,) * (len(document["steps"]) - 1)
        add("conflict", day + 1, document, *outcomes)

    for _ in range(s):
        day = kit.fresh_day()
        cut = dumps(_session(kit, day, 2))[:150]
        traps.append(TrapLine("truncated_line", day, cut, (MALFORMED_JSON,), truncated=True))
        add("non_object_line", kit.day(), 42, MALFORMED_JSON)
        for tenant in (DROP, None, ""):
            day = kit.day()
            document = _session(kit, day, 2, tenantId=tenant)
            add("missing_tenant", day, document, MISSING_TENANT, MISSING_TENANT)
        for bad in ("N/A", {"_seconds": "x", "_nanoseconds": 0}):
            day = kit.day()
            document = _session(kit, day, 2)
            document["steps"][0]["timestamp"] = bad
            add("bad_timestamp", day, document, BAD_TIMESTAMP, ACCEPTED)
        day = kit.day()
        for ahead in (2, 30):
            document = _session(kit, day, 1)
            at = time_value(kit.window.day_start_ms(day + ahead), TimeForm.ISO_Z_MILLIS)
            document["steps"][0]["timestamp"] = at
            add("future_timestamp", day, document, FUTURE_TIMESTAMP)
        for usage_type in ("StorageUsage", "api_usage"):
            day = kit.day()
            document = _session(kit, day, 1)
            document["steps"][0]["usageType"] = usage_type
            add("unknown_meter", day, document, UNKNOWN_METER)
        day = kit.day()
        add("empty_session", day, _session(kit, day, 0, status="in_progress"))
    return traps
