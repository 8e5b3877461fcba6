"""benchmarks/modal_keys.py: what tunes that read like real ones would score on a set of keys."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _script():
    sys.path.insert(0, str(BENCH))   # the script imports benchmarks/common.py
    spec = importlib.util.spec_from_file_location("modal_keys", BENCH / "modal_keys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RATES = {"major": 0.9, "minor": 0.8, "dorian": 0.4, "mixolydian": 0.2}


def test_a_set_scores_the_mean_of_its_modes_rates():
    mk = _script()
    assert mk.set_score(RATES, ["major", "major", "dorian", "mixolydian"]) == pytest.approx(0.6)


def test_the_best_set_keeps_a_minor_and_the_modal_keys_asked_and_fills_with_the_best_mode():
    mk = _script()
    best = mk.best_set(RATES, size=6, modal=2)
    assert sorted(best) == sorted(["major"] * 3 + ["minor", "dorian", "dorian"])
    assert mk.set_score(RATES, best) == pytest.approx((3 * 0.9 + 0.8 + 2 * 0.4) / 6)
    # with minor the best-read mode, the set fills with minor keys
    flipped = {**RATES, "minor": 0.95}
    assert sorted(mk.best_set(flipped, modal=1)) == sorted(["major", "minor", "dorian"] + ["minor"] * 3)
    assert mk._counted(["major", "minor", "major"]) == "2 major, 1 minor"


def test_a_best_set_without_a_modal_mode_is_refused():
    mk = _script()
    with pytest.raises(ValueError, match="modal"):
        mk.best_set({"major": 0.9, "minor": 0.8})
