"""Configs the benchmarks need ship inside the package, so an installed musicgate finds them."""
from __future__ import annotations

from pathlib import Path

from musicgate.experiments.presets import PRESETS, poly_preset, preset_path, presets


def test_every_polyphonic_preset_is_package_data_and_found_by_dataset_and_cell():
    assert PRESETS.is_relative_to(Path(__import__("musicgate").__file__).parent)
    names = presets()
    assert {f"poly-{d}-{c}" for d in ("jsb", "nottingham") for c in ("rnn", "lstm", "gru")} <= set(names)
    assert poly_preset("jsb", "lstm") == PRESETS / "poly-jsb-lstm.yaml"
    assert poly_preset("musedata", "lstm") is None and preset_path("no-such") is None


def test_presets_are_listed_as_package_data_in_pyproject():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"musicgate.experiments.presets" = ["*.yaml"]' in text


def test_no_polyphonic_config_is_duplicated_in_the_source_checkout():
    configs = Path(__file__).resolve().parents[1] / "configs"
    assert not list(configs.glob("poly-*.yaml"))
