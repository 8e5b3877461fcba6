"""Bar plans: how many bar lines each generated piece is planned to have, drawn from the training tunes.

A model with form inputs reads the bar lines so far and the bar lines left of a planned length. A checkpoint
records its training tunes' bar-line counts (``dataset.bar_lines``) and the same per time signature
(``dataset.bar_lines_by_meter``); a piece's plan is drawn from the tunes of its meter, with its own stream of
the seed, so a set of tunes has the corpus's mix of lengths and forms, meter by meter
(:func:`musicgate.generation.api.generate`; the live page draws the same way).
"""
from __future__ import annotations

import numpy as np

from musicgate.errors import CheckpointError, ConfigError
from musicgate.music.meters import meter_name, parse_meter

DEFAULT_BARS = 16
"""Planned bar lines of a piece from a model with form inputs when none is given and the checkpoint does
not record its corpus's bar counts (the median of the folk corpus); the model reads the bars so far and
the bars left, so it can shape the tune to end there."""
MIN_DRAWN_BARS = 8
"""The shortest plan drawn from a model's training tunes: tunes with fewer bar lines (5% of the folk
corpus) are fragments, and the 32-note minimum length would run past a plan that short."""
MIN_METER_TUNES = 20
"""A time signature's pieces draw their plans from the training tunes in it when at least this many of them
have :data:`MIN_DRAWN_BARS` bar lines or more; a rarer meter's, from all the training tunes."""
PLAN_STREAM = 0x6261
"""The plans' own random stream of the seed (one uniform number a piece): the token draws stay as they were."""


def draw_plans(counts: dict, u: np.ndarray, have: int) -> np.ndarray | None:
    """Plans for uniform numbers ``u`` from bar-line ``counts`` (count -> tunes) past ``have`` bar lines and
    at least :data:`MIN_DRAWN_BARS` (as ``Generator.choice`` draws with these weights), or None if none is."""
    values = np.array([int(k) for k in counts], np.int64)
    weights = np.array([float(v) for v in counts.values()])
    weights = np.where((values > have) & (values >= MIN_DRAWN_BARS), weights, 0.0)
    if not weights.sum() > 0:
        return None
    cdf = np.cumsum(weights / weights.sum())
    return values[np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), len(values) - 1)]


class MeterPlans:
    """Each piece's plan, given once its METER is drawn (``sample(plan_after_meter=...)``): ``fixed`` (one per
    piece) where the plan does not depend on the meter, else drawn with ``u`` from the training tunes in
    that meter (``by_meter``), or from all of them (``counts``) for a meter with fewer than
    :data:`MIN_METER_TUNES`; ``drawn`` keeps them for the run's JSON."""

    def __init__(self, tokenizer, u: np.ndarray, *, fixed: np.ndarray | None = None, by_meter: dict | None = None,
                 counts: dict | None = None):
        self.u, self.fixed, self.fallback = u, fixed, counts or {}
        self.drawn = np.full(len(u), -1, np.int64)
        self.tables = {tokenizer.meter_id(parse_meter(name)): table
                       for name, table in meter_tables(tokenizer, by_meter or {}).items()}

    def __call__(self, rows: np.ndarray, meter_ids: np.ndarray) -> np.ndarray:
        for row, m in zip(rows, meter_ids):
            if self.fixed is not None:
                self.drawn[row] = self.fixed[row]
                continue
            plan = draw_plans(self.tables.get(int(m)) or self.fallback, self.u[row:row + 1], 0)
            self.drawn[row] = DEFAULT_BARS if plan is None else plan[0]
        return self.drawn[rows]


def whole_counts(value) -> dict[int, int] | None:
    """Bar-line counts ({bar lines: tunes}) as whole numbers, bar lines >= 1 and tunes >= 0 (keys and values
    may be strings, as JSON has them), or None where ``value`` is no such map."""
    try:  # int(str(x)): "17" and 17, not 17.5, True or "x"
        counts = {int(str(k)): int(str(v)) for k, v in dict(value).items()}
    except (TypeError, ValueError):
        return None
    return counts if counts and all(k >= 1 and v >= 0 for k, v in counts.items()) else None


def checked_counts(value, what: str) -> dict[int, int]:
    """A checkpoint's bar-line counts (:func:`whole_counts`), or one clear CheckpointError."""
    counts = whole_counts(value)
    if counts is None:
        raise CheckpointError(f"the checkpoint's {what} should map bar lines (whole numbers >= 1) to tunes (whole "
                              f"numbers >= 0), got {str(value)[:120]}; export the model again (musicgate export)")
    return counts


def checked_by_meter(value) -> dict[str, dict[int, int]]:
    """A checkpoint's ``dataset.bar_lines_by_meter`` ({"6/8": {bar lines: tunes}}) checked."""
    if not isinstance(value, dict):
        raise CheckpointError(f"the checkpoint's dataset.bar_lines_by_meter should map time signatures to bar-line "
                              f"counts, got {str(value)[:120]}; export the model again (musicgate export)")
    out = {}
    for name, counts in value.items():
        try:
            meter = parse_meter(str(name))
        except ConfigError:
            raise CheckpointError(f"the checkpoint's dataset.bar_lines_by_meter has {str(name)[:40]!r}, not a time "
                                  "signature; export the model again (musicgate export)") from None
        out[meter_name(meter)] = checked_counts(counts, f"dataset.bar_lines_by_meter[{meter_name(meter)!r}]")
    return out


def usable_tunes(counts: dict) -> int:
    """Tunes of bar-line ``counts`` with at least :data:`MIN_DRAWN_BARS` bar lines."""
    return sum(int(v) for k, v in counts.items() if int(k) >= MIN_DRAWN_BARS)


def meter_tables(tokenizer, by_meter: dict) -> dict[str, dict]:
    """The bar-line counts of ``by_meter`` ({"6/8": counts}) whose meter has plans of its own: a time signature
    of ``tokenizer``'s vocabulary with :data:`MIN_METER_TUNES` usable tunes (:func:`usable_tunes`) or more."""
    return {name: table for name, table in by_meter.items()
            if tokenizer.meter_id(parse_meter(name)) != tokenizer.meter_unknown_id
            and usable_tunes(table) >= MIN_METER_TUNES}
