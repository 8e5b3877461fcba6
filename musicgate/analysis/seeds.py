"""Results over several seeds: the mean and a Student-t interval.

Each seed is one independent training run, so the runs are the sample: with ``n`` seeds the 95%
interval is ``mean +- t(0.975, n - 1) * sd / sqrt(n)``. With 3 seeds ``t`` is 4.30, so an interval
says honestly how little three runs pin down. One seed gives no interval (NaN bounds).
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def seed_interval(values: Sequence[float], *, level: float = 0.95, floor: float | None = None,
                  ceiling: float | None = None) -> tuple[float, float, float]:
    """Mean of per-seed values with a two-sided Student-t interval.

    Parameters
    ----------
    values : one number per seed (NaN entries are an error: a diverged run must be reported,
        not dropped)
    level : coverage of the interval, in (0, 1)
    floor, ceiling : clip the interval to the values the quantity can take (0 for a loss, [0, 1]
        for a probability)

    Returns
    -------
    mean, lo, hi : floats; ``lo`` and ``hi`` are NaN for a single seed
    """
    from scipy import stats

    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("seed_interval needs at least one value")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n = len(vals)
    mean = math.fsum(vals) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    lo = mean - half if floor is None else max(floor, mean - half)
    hi = mean + half if ceiling is None else min(ceiling, mean + half)
    return mean, lo, hi


def format_interval(mean: float, lo: float, hi: float, fmt: str = ".4f") -> str:
    """``0.1234 [0.1100, 0.1368]`` (just the mean when there is no interval)."""
    if math.isnan(lo):
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


__all__ = ["seed_interval", "format_interval"]
