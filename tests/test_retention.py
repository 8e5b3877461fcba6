"""Key retention: bootstrap intervals, survival curves, per-position measures, the report files."""
from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midifile import off, on, smf
from musicgate.errors import ConfigError, KeyNameError
from musicgate.analysis.keyfind import estimate_key
from musicgate.music.keys import MAJOR_MINOR_KEYS, MIREX_TABLE, Key, key_index, parse_key
from musicgate.music.notes import Notes
from musicgate.analysis.retention import (bootstrap_mean_ci, drift_times, in_signature_matrix, kaplan_meier, km_median,
                                 measure_midi, measure_notes, pad_notes, survival_at, windowed_agreement,
                                 windowed_in_signature)

C, G, AM = Key(0, "major"), Key(7, "major"), Key(9, "minor")


# -- bootstrap ---------------------------------------------------------------------------------
def test_bootstrap_constant_data_has_zero_width_interval():
    mean, lo, hi = bootstrap_mean_ci(np.full((50, 4), 0.7), n_boot=300, seed=1)
    np.testing.assert_allclose(mean, 0.7)
    np.testing.assert_allclose(hi - lo, 0.0, atol=1e-12)


def test_bootstrap_coverage_is_near_nominal():
    # 400 independent columns = 400 experiments of 150 Bernoulli(0.3) draws each
    rng = np.random.default_rng(0)
    x = (rng.random((150, 400)) < 0.3).astype(float)
    mean, lo, hi = bootstrap_mean_ci(x, n_boot=400, seed=2)
    np.testing.assert_allclose(mean, x.mean(axis=0))
    coverage = np.mean((lo <= 0.3) & (0.3 <= hi))
    assert 0.89 <= coverage <= 0.99
    assert np.all(lo <= mean) and np.all(mean <= hi)


def test_bootstrap_ignores_nan_and_is_seeded():
    x = np.array([[1.0, np.nan], [0.0, np.nan], [1.0, np.nan], [np.nan, np.nan]])
    m1, lo1, hi1 = bootstrap_mean_ci(x, n_boot=200, seed=5)
    m2, lo2, hi2 = bootstrap_mean_ci(x, n_boot=200, seed=5)
    assert m1[0] == pytest.approx(2 / 3)
    assert np.isnan(m1[1]) and np.isnan(lo1[1]) and np.isnan(hi1[1])
    np.testing.assert_array_equal(lo1, lo2)
    np.testing.assert_array_equal(hi1, hi2)
    assert 0.0 <= lo1[0] < hi1[0] <= 1.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_bootstrap_interval_lies_within_the_data_range(values):
    mean, lo, hi = bootstrap_mean_ci(np.array(values), n_boot=100, seed=0)
    assert min(values) - 1e-9 <= lo <= mean + 1e-9 and mean - 1e-9 <= hi <= max(values) + 1e-9


# -- survival ----------------------------------------------------------------------------------
def test_kaplan_meier_on_hand_made_drift_times():
    times = np.array([2, 3, 3, 5, 8, np.nan])
    observed = np.array([1, 1, 0, 1, 0, 1], bool)   # the NaN (no window) is left out
    t, s, lo, hi = kaplan_meier(times, observed)
    np.testing.assert_array_equal(t, [2, 3, 5])
    # at 2: 5 at risk, 1 event; at 3: 4 at risk, 1 event; at 5: 2 at risk, 1 event
    np.testing.assert_allclose(s, [0.8, 0.6, 0.3])
    assert km_median(t, s) == 5
    assert np.all(lo <= s) and np.all(s <= hi)
    np.testing.assert_allclose(survival_at(t, s, [0, 1, 2, 4, 5, 100]), [1, 1, 0.8, 0.6, 0.3, 0.3])


def test_kaplan_meier_all_censored_never_reaches_the_median():
    t, s, _, _ = kaplan_meier(np.array([10.0, 20.0]), np.array([False, False]))
    assert len(t) == 0 and math.isinf(km_median(t, s))
    np.testing.assert_allclose(survival_at(t, s, [5, 50]), [1, 1])


def test_drift_times_first_off_target_window():
    nan = np.nan
    exact = np.array([[1, 1, 1, 0, 1, 0],       # windows of 2, stride 2: columns 0, 2, 4
                      [1, 0, 0, 0, 1, 1],       # column 2 off: drift at 2 + 2 = 4
                      [1, 1, 1, 1, 1, 1],       # never: censored at column 4 end = 6
                      [1, 1, nan, nan, nan, nan],
                      [nan] * 6])
    lengths = np.array([7, 7, 7, 3, 1])
    times, seen = drift_times(exact, lengths, 2)
    np.testing.assert_array_equal(times[:4], [6, 4, 6, 2])
    assert np.isnan(times[4])
    np.testing.assert_array_equal(seen, [False, True, False, False, False])
    # row 0 at stride 1: column 3 is the first off window
    t1, _ = drift_times(exact, lengths, 2, stride=1)
    assert t1[0] == 5
    # patience 2 at stride 1: row 1 has columns 1, 2 off -> the run starts at column 1
    t2, s2 = drift_times(exact, lengths, 2, stride=1, patience=2)
    assert t2[1] == 3 and not s2[0]


# -- per-position measures ---------------------------------------------------------------------
def test_in_signature_per_position_exact_values():
    pitch, dur, lengths = pad_notes([Notes.from_arrays([60, 61, 62, 64, 66], np.arange(5), np.ones(5)),
                                     Notes.from_arrays([66, 67, 69], np.arange(3), np.ones(3))])
    m = in_signature_matrix(pitch, lengths, [C, G])
    np.testing.assert_array_equal(m[0], [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(m[1, :3], [1, 1, 1])     # F# is in G major's signature
    assert np.all(np.isnan(m[1, 3:]))
    w = windowed_in_signature(m, lengths, 2)
    np.testing.assert_allclose(w[0], [0.5, 0.5, 1.0, 0.5])
    np.testing.assert_allclose(w[1, :2], [1.0, 1.0])
    assert np.all(np.isnan(w[1, 2:]))
    # modal targets use their own signature: A dorian's is G major's (F# in, F out)
    md = in_signature_matrix(np.array([[66, 65]]), np.array([2]), [parse_key("Ador")])
    np.testing.assert_array_equal(md, [[1, 0]])


def test_windowed_agreement_matches_estimate_key_per_window():
    rng = np.random.default_rng(3)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    notes = [Notes.from_arrays(60 + rng.choice(scale, 40), np.arange(40.0), rng.choice([0.5, 1, 2], 40))
             for _ in range(3)]
    pitch, dur, lengths = pad_notes(notes)
    targets = [C, G, AM]
    agr = windowed_agreement(pitch, dur, lengths, targets, window=16)
    assert agr.exact.shape == (3, 25)
    for b in range(3):
        for j in (0, 7, 24):
            est = estimate_key(pitch[b, j:j + 16], dur[b, j:j + 16]).key
            assert agr.key[b, j] == key_index(est)
            assert agr.exact[b, j] == float(est == targets[b])
            assert agr.mirex[b, j] == MIREX_TABLE[key_index(est), key_index(targets[b])]


def test_windowed_agreement_short_sequences_are_nan():
    pitch, dur, lengths = pad_notes([Notes.from_arrays([60, 62, 64], np.arange(3), np.ones(3))], length=20)
    agr = windowed_agreement(pitch, dur, lengths, [C], window=16)
    assert agr.exact.shape == (1, 5) and np.all(np.isnan(agr.exact)) and np.all(agr.key == -1)


# -- one piece and bad input -------------------------------------------------------------------
def test_measure_notes_in_key_piece():
    pitch = np.tile([60, 64, 67, 72, 67, 64, 62, 65, 71, 60], 5)
    r = measure_notes(Notes.from_arrays(pitch, np.arange(50.0), np.ones(50)), "C major", window=16)
    assert r.notes == 50 and r.in_signature == 1.0
    assert 0 <= r.agreement <= 1 and 0 <= r.mirex <= 1


def test_empty_and_drum_only_midi_give_nan_and_a_warning(tmp_path):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(smf([]))
    drums = tmp_path / "drums.mid"
    drums.write_bytes(smf([(0, on(36, ch=9)), (240, off(36, ch=9)), (0, on(38, ch=9)), (240, off(38, ch=9))]))
    for path in (empty, drums):
        with pytest.warns(RuntimeWarning, match="no notes"):
            r = measure_midi(path, "D major")
        assert r.notes == 0 and math.isnan(r.in_signature) and math.isnan(r.agreement)
        assert math.isnan(r.mirex) and math.isnan(r.drift_time) and not r.drifted
    with pytest.warns(RuntimeWarning, match="fewer than one window"):
        r = measure_notes(Notes.from_arrays([60, 62], [0, 1], [1, 1]), C, window=16)
    assert r.in_signature == 1.0 and math.isnan(r.agreement)


def test_unknown_profile_and_key_list_the_valid_ones():
    n = Notes.from_arrays([60] * 20, np.arange(20.0), np.ones(20))
    with pytest.raises(KeyNameError, match="valid profiles: krumhansl-kessler"):
        measure_notes(n, C, profile="nonsense")
    with pytest.raises(KeyNameError, match="accepted forms"):
        measure_notes(n, "H major")
    with pytest.raises(KeyNameError, match="valid profiles"):
        windowed_agreement(np.array([[60] * 20]), None, np.array([20]), [C], window=16, profile="bogus")


def test_retention_config_errors():
    from musicgate.experiments.config import retention_config

    with pytest.raises(ConfigError, match="valid keys: models"):
        retention_config({"n_per_keys": 3})
    with pytest.raises(ConfigError, match="n_per_key"):
        retention_config({}, ["n_per_key=0"])
    with pytest.raises(KeyNameError, match="valid profiles"):
        retention_config({}, ["profile=foo"])
    with pytest.raises(KeyNameError, match="accepted forms"):
        retention_config({"keys": ["C major", "Q minor"]})
    cfg = retention_config({}, ["keys=[D major, Em]", "windows=[8]", "models.lstm=x.pt"])
    assert cfg.key_list() == [Key(2, "major"), Key(4, "minor")] and cfg.windows == [8]
    assert cfg.models["lstm"] == "x.pt" and cfg.models["rnn"] == "folk-rnn"
    assert len(retention_config().key_list()) == 24 == len(MAJOR_MINOR_KEYS)


# -- the experiment end to end, tiny ----------------------------------------------------------
@pytest.fixture
def tiny_setup(tmp_path):
    import torch

    from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
    from musicgate.data.corpora import load_prepared
    from musicgate.nn.models import RecurrentLM
    from synthetic_data import make_dataset

    ds = make_dataset(tmp_path / "ds", n_tunes=40, min_notes=20, max_notes=60)
    tok = load_prepared(ds).tokenizer
    models = {}
    for cell in ("rnn", "lstm", "gru"):
        torch.manual_seed(0)
        model = RecurrentLM(vocab_size=len(tok), cell=cell, hidden=8, layers=1)
        path = tmp_path / f"{cell}.pt"
        save_checkpoint(make_checkpoint(model=model, config={}, tokenizer=tok, dataset={"name": "t"}, step=0,
                                        best_val_loss=None), path)
        models[cell] = str(path)
    config = {"models": models, "keys": ["C major", "A minor"], "n_per_key": 2, "length": 40,
              "windows": [16], "positions": [16, 40], "drift_window": 16, "n_boot": 50,
              "dataset": str(ds), "output": str(tmp_path / "out"), "batch_size": 8}
    return tmp_path, config


def test_run_retention_writes_a_reproducible_report(tiny_setup):
    from musicgate.experiments.config import load_retention_config, retention_config
    from musicgate.experiments.retention_run import run_retention

    tmp_path, config = tiny_setup
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = Path(run_retention(config))
    for name in ("report.md", "config.yaml", "models.json", "sequences.csv", "curves.csv", "raw.npz",
                 "tokens.npz", "retention-w16.png", "drift.png", "summary.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp"))
    report = (out / "report.md").read_text()
    for label in ("rnn", "lstm", "gru", "real tunes"):
        assert f"| {label}" in report
    assert "agreement @40" in report and "median drift" in report and "vanilla RNN" in report
    assert "| lstm (lstm) | minor | 2 |" in report and "| real tunes, weighted as asked | 50% major, 50% minor |" in report
    models = json.loads((out / "models.json").read_text())["models"]
    for m in models:
        assert m["sha256"] == hashlib.sha256(Path(m["path"]).read_bytes()).hexdigest()
    assert load_retention_config(out / "config.yaml") == retention_config(config)
    rows = (out / "sequences.csv").read_text().splitlines()
    assert sum(r.startswith("lstm,") for r in rows) == 4
    with np.load(out / "raw.npz") as raw:
        assert raw["gru_pitch"].shape == (4, 40) and np.all(raw["gru_lengths"] == 40)


def test_min_p_reaches_the_sampler_and_the_report(tiny_setup):
    from musicgate.experiments.config import retention_config
    from musicgate.experiments.retention_run import run_retention

    tmp_path, config = tiny_setup
    config = {**config, "models": {"gru": config["models"]["gru"]}}
    plain = Path(run_retention({**config, "output": str(tmp_path / "plain")}))
    cut = Path(run_retention({**config, "output": str(tmp_path / "cut"), "min_p": 0.5}))
    assert "plain sampling (temperature 1, no key mask" in (plain / "report.md").read_text()
    assert "min-p sampling (temperature 1, min-p 0.5, no key mask" in (cut / "report.md").read_text()
    with np.load(plain / "tokens.npz") as a, np.load(cut / "tokens.npz") as b:
        assert any(not np.array_equal(a[k], b[k]) for k in a.files)   # same seed, other draws
    with pytest.raises(ConfigError, match="min_p"):
        retention_config({}, ["min_p=1"])


def test_medley_sets_reach_the_sampler_and_the_report(tiny_setup):
    from musicgate.experiments.config import retention_config
    from musicgate.experiments.retention_run import run_retention

    tmp_path, config = tiny_setup
    config = {**config, "models": {"gru": config["models"]["gru"]}, "length": 80}
    out = Path(run_retention({**config, "output": str(tmp_path / "sets"), "medley": True}))
    assert "played as sets: a tune may end and the next follows in the same state" in (out / "report.md").read_text()
    assert json.loads((out / "models.json").read_text())["models"][0]["length_mode"] == "medley"
    with np.load(out / "raw.npz") as raw:
        assert np.all(raw["gru_lengths"] == 80)   # every set has all its notes, whatever its tunes
    with pytest.raises(ConfigError, match="medley"):
        retention_config({}, ["medley=sometimes"])


def test_cli_retention_and_bad_override(tiny_setup, capsys):
    import yaml

    from musicgate.cli import main

    tmp_path, config = tiny_setup
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump({**config, "models": {"gru": config["models"]["gru"]}}))
    assert main(["-q", "experiment", "retention", "--config", str(cfg), "--set", "n_boot=20"]) == 0
    assert "| gru (gru)" in capsys.readouterr().out
    assert main(["experiment", "retention", "--config", str(cfg), "--set", "profile=nope"]) == 2
    assert "valid profiles" in capsys.readouterr().err
    assert main(["experiment", "retention", "--config", str(cfg), "--set", "models.gru=missing-model"]) == 2
    assert "shipped" in capsys.readouterr().err


def test_cli_retention_writes_under_the_output_it_is_given(tiny_setup, capsys):
    import yaml

    from musicgate.cli import main

    tmp_path, config = tiny_setup
    cfg = tmp_path / "o.yaml"
    cfg.write_text(yaml.safe_dump({**config, "models": {"gru": config["models"]["gru"]}, "output": str(tmp_path / "cfg")}))
    assert main(["-q", "experiment", "retention", "--config", str(cfg), "--set", "n_boot=20",
                 "-o", str(tmp_path / "given")]) == 0
    assert [p.name.startswith("retention-") for p in (tmp_path / "given").iterdir()] == [True]
    assert not (tmp_path / "cfg").exists()   # -o wins over the config's output
    (tmp_path / "file").write_text("x")
    assert main(["experiment", "retention", "--config", str(cfg), "-o", str(tmp_path / "file")]) == 2
    assert "output folder" in capsys.readouterr().err


def test_models_from_a_training_config_are_trained_first(tiny_setup):
    import yaml

    from musicgate.experiments.retention_run import run_retention

    tmp_path, config = tiny_setup
    train_yaml = tmp_path / "tiny-gru.yaml"
    train_yaml.write_text(yaml.safe_dump({
        "data": {"dataset": config["dataset"], "window": 16},
        "model": {"cell": "gru", "hidden": 8, "layers": 1},
        "train": {"steps": 4, "batch_size": 4, "eval_every": 2, "eval_batches": 1, "checkpoint_every": 2,
                  "log_every": 2, "warmup": 1, "device": "cpu"}}))
    out = Path(run_retention({**config, "models": {"gru": str(train_yaml)}, "keys": ["G major"], "length": 20},
                             quiet=True))
    (info,) = json.loads((out / "models.json").read_text())["models"]
    assert info["cell"] == "gru" and info["step"] == 4
    assert Path(info["path"]).parent == out / "models" / "gru"


def test_the_by_mode_table_reads_each_asked_mode_alone_and_weights_the_real_tunes_as_asked():
    from types import SimpleNamespace

    from musicgate.analysis.retention import Measured
    from musicgate.experiments.config import retention_config
    from musicgate.experiments.retention_report import CellRun, by_mode
    from musicgate.music.keys import parse_key

    config = retention_config({"models": {"m": "m.pt"}, "length": 40, "windows": [16], "positions": [16, 40],
                               "drift_window": 16, "n_boot": 50})

    def measured(targets: list[str], exact: np.ndarray) -> Measured:
        return Measured(np.zeros((len(targets), 40)), np.zeros((len(targets), 40)), np.full(len(targets), 40),
                        [parse_key(t) for t in targets], np.zeros((len(targets), 40)),
                        agreement={16: SimpleNamespace(exact=exact)})

    # the model: its two major sequences in the key at every window, its two minor ones never
    model = measured(["C major", "G major", "A minor", "E minor"], np.repeat([[1.0], [1.0], [0.0], [0.0]], 25, axis=1))
    # real tunes: 3 major (all windows in the key), 1 dorian (a minor third: counted as minor; half its windows)
    real = measured(["D major", "G major", "A major", "E dorian"],
                    np.r_[np.ones((3, 25)), np.tile([[1.0, 0.0]], (1, 13))[:, :25]])
    lines, out = by_mode([CellRun("m", {"cell": "lstm"}, model, [], 0.0)], real, config)
    assert out["cells"]["m"]["major"]["40"][0] == 1.0 and out["cells"]["m"]["minor"]["40"][0] == 0.0
    assert out["real"]["major"][0] == 1.0 and out["real"]["minor"][0] == pytest.approx(13 / 25)
    assert out["real_weighted"]["value"] == pytest.approx(0.5 * 1.0 + 0.5 * 13 / 25)   # asked half and half
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| sequences | mode | sequences counted | agreement @16 | agreement @40 |"
    assert "| m (lstm) | minor | 2 | 0.000 [0.000, 0.000] | 0.000 [0.000, 0.000] |" in table
    assert table[-1].startswith("| real tunes, weighted as asked | 50% major, 50% minor | - | 0.760 |")
