"""Mean and Student-t interval over seeds."""
from __future__ import annotations

import math

import pytest

from musicgate.analysis.seeds import format_interval, seed_interval


def test_t_interval_matches_the_textbook_value():
    mean, lo, hi = seed_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-6)   # t(0.975, 2), sd 1
    assert mean - lo == pytest.approx(hi - mean)
    _, lo90, hi90 = seed_interval([1.0, 2.0, 3.0], level=0.90)
    assert lo < lo90 < hi90 < hi


def test_one_seed_has_no_interval_and_floor_clips():
    mean, lo, hi = seed_interval([0.5])
    assert mean == 0.5 and math.isnan(lo) and math.isnan(hi)
    assert format_interval(mean, lo, hi, ".2f") == "0.50"
    _, lo, _ = seed_interval([0.0, 0.0, 0.3], floor=0.0)
    assert lo == 0.0
    _, _, hi = seed_interval([0.58, 0.58, 0.99], ceiling=1.0)
    assert hi == 1.0
    assert format_interval(0.2, 0.0, 0.4, ".1f") == "0.2 [0.0, 0.4]"
    with pytest.raises(ValueError):
        seed_interval([])
