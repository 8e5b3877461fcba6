"""The probe diagnostics measure what they say: gradient at the key, keep gates, key spread."""
from __future__ import annotations

import math

import pytest

from musicgate.errors import ConfigError
from musicgate.experiments.probe import ProbeConfig
from musicgate.experiments.probe_why import diagnose, why_table


def test_diagnose_records_every_measure_and_forget1_raises_the_keep_gate():
    cfg = ProbeConfig(steps=4, lstm_hidden=8)
    default = diagnose("lstm", 12, cfg, every=2)
    assert [r["step"] for r in default["trace"]] == [0, 2, 4]
    first = default["trace"][0]
    assert math.isnan(first["loss"]) and not math.isnan(default["trace"][-1]["loss"])
    assert 0 < first["grad_key"] and 0 < first["grad_note"]
    # after 12 steps of ~0.5 keep gates, the key's gradient is orders below the last gap step's
    assert first["grad_key"] < 1e-2 * first["grad_note"]
    assert 0.3 < first["keep"] < 0.7 and 0 <= first["survive"] <= first["survive_max"] <= 1
    assert 0 <= first["saturated"] <= 1 and first["c_abs"] > 0
    forget1 = diagnose("lstm", 12, ProbeConfig(steps=1, lstm_hidden=8, init="forget1"))
    assert forget1["trace"][0]["keep"] > first["keep"] + 0.1
    assert forget1["trace"][0]["grad_key"] > first["grad_key"]
    gru = diagnose("gru", 5, ProbeConfig(steps=1, lstm_hidden=8))
    assert "c_abs" not in gru["trace"][0] and "keep" in gru["trace"][0]
    table = why_table([default, gru])
    assert "| lstm | default | 0.02 | 12 | 0 | 4 |" in table and "| gru | default | 0.01 | 5 | 0 | 0 |" in table


def test_diagnose_rejects_bad_init():
    with pytest.raises(ConfigError, match="no gates"):
        diagnose("rnn", 3, ProbeConfig(steps=1, init="chrono"))
