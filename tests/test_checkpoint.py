"""Checkpoints: what they hold, loading on the CPU, and one clear error per kind of bad input."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from musicgate.nn.hub import load_model
from musicgate.nn.checkpoint import (FORMAT, VERSION, load_checkpoint, rng_state, save_checkpoint,
                                  set_rng_state)
from musicgate.cli import main
from musicgate.errors import CheckpointError
from musicgate.nn.models import RecurrentLM
from musicgate.train.loop import train
from synthetic_data import make_dataset, tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished tiny run (LSTM on the melody dataset ``mini``)."""
    root = tmp_path_factory.mktemp("ckpt")
    data = make_dataset(root / "mini", n_tunes=30)
    cfg = tiny_config(data, "train.steps=6", "train.eval_every=3", "train.checkpoint_every=3")
    train(cfg, run_dir=root / "run", quiet=True)
    return root / "run", data


def test_checkpoint_describes_itself(run):
    run_dir, data = run
    raw = torch.load(run_dir / "last.pt", weights_only=True)
    assert raw["format"] == FORMAT and raw["version"] == VERSION
    assert raw["config"]["model"]["cell"] == "lstm" and raw["model_args"]["cell"] == "lstm"
    assert raw["tokenizer"]["config"]["kind"] == "melody" and len(raw["tokenizer"]["vocab"]) == 197  # 191 + TIE and the five form tokens
    assert raw["dataset"]["fingerprint"] and raw["step"] == 6
    from musicgate.data.corpora import load_prepared

    prepared = load_prepared(data)   # the modes of the training tunes' KEY tokens, counted by hand
    modes = [prepared.tokenizer.key_of(prepared.tune(int(i))[:3]).mode for i in prepared.splits["train"]]
    assert raw["dataset"]["modes"] == {m: modes.count(m) for m in set(modes)} and set(modes) == {"major", "minor"}
    medians = [np.median(prepared.tokenizer.decode(prepared.tune(int(i))).pitch) for i in prepared.splits["train"]]
    assert raw["dataset"]["register"] == pytest.approx(dict(zip(("lo", "median", "hi"), np.quantile(medians, [.05, .5, .95]))))
    assert raw["best_val_loss"] is not None and np.isfinite(raw["best_val_loss"])
    trainer = raw["trainer"]
    assert {"optimizer", "scheduler", "rng", "loader"} <= set(trainer)
    assert set(trainer["rng"][0]) >= {"python", "numpy", "torch"}
    assert trainer["loader"]["step"] == 6 and trainer["loader"]["seed"] == 0
    assert trainer["optimizer"]["state"]  # Adam moments were saved


def test_load_model_rebuilds_the_trained_network(run):
    run_dir, _ = run
    model, tok, meta = load_model(run_dir / "best.pt")
    assert isinstance(model, RecurrentLM) and not model.training
    assert meta["step"] in (3, 6) and meta["model_args"]["hidden"] == 32 and len(tok) == model.vocab_size
    raw = torch.load(run_dir / "best.pt", weights_only=True)
    ref = RecurrentLM(**raw["model_args"])
    ref.load_state_dict(raw["model"])
    ids = torch.randint(0, len(tok), (2, 9))
    torch.testing.assert_close(model(ids)[0], ref.eval()(ids)[0])
    ckpt = load_checkpoint(run_dir)  # a run folder means its last.pt
    assert ckpt.step == 6 and ckpt.cell == "lstm" and ckpt.tokenizer == tok


def test_loads_on_the_cpu_whatever_device_wrote_it(run, tmp_path):
    """A checkpoint whose tensors are tagged ``cuda:0`` (as a GPU run writes them) loads on the CPU."""
    import torch.serialization as ser
    from unittest import mock

    run_dir, _ = run
    raw = torch.load(run_dir / "last.pt", weights_only=True)
    with mock.patch.object(ser, "location_tag", lambda storage: "cuda:0"):
        save_checkpoint(raw, tmp_path / "gpu.pt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "gpu.pt", weights_only=True)  # the file really says cuda
    model, _, meta = load_model(tmp_path / "gpu.pt")
    assert meta["step"] == 6
    assert all(p.device.type == "cpu" for p in model.parameters())
    ckpt = load_checkpoint(tmp_path / "gpu.pt")
    assert all(v.device.type == "cpu" for v in ckpt.trainer["optimizer"]["state"][0].values())


def test_not_a_checkpoint(tmp_path, run):
    text = tmp_path / "notes.pt"
    text.write_text("these are not the weights you are looking for\n")
    with pytest.raises(CheckpointError, match="not a musicgate checkpoint"):
        load_checkpoint(text)
    bare = tmp_path / "state_dict.pt"
    torch.save(RecurrentLM(vocab_size=5, hidden=4, layers=1).state_dict(), bare)
    with pytest.raises(CheckpointError, match="format tag"):
        load_checkpoint(bare)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("keep", [0.5, 0.95, 0.1])
def test_truncated_checkpoint(run, tmp_path, keep):
    blob = (run[0] / "last.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(blob[:int(len(blob) * keep)])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        load_checkpoint(cut)
    assert "\n" not in str(err.value)


def _copy_run(run_dir, tmp_path):
    import shutil

    dest = tmp_path / "copy"
    shutil.copytree(run_dir, dest)
    return dest


def test_resume_with_another_cell_is_refused(run, tmp_path):
    run_dir, data = run
    dest = _copy_run(run_dir, tmp_path)
    with pytest.raises(CheckpointError, match="cell 'lstm'.*'gru'"):
        train(tiny_config(data, "model.cell=gru", "train.steps=8"), run_dir=dest, resume=True, quiet=True)
    with pytest.raises(CheckpointError, match="different model.*hidden"):
        train(tiny_config(data, "model.hidden=16", "train.steps=8"), run_dir=dest, resume=True, quiet=True)


def test_resume_on_another_vocabulary_is_refused(run, tmp_path):
    run_dir, _ = run
    other = make_dataset(tmp_path / "wide", n_tunes=30, pitch_range=(40, 90))
    with pytest.raises(CheckpointError, match="another vocabulary"):
        train(tiny_config(other, "train.steps=8"), run_dir=_copy_run(run_dir, tmp_path), resume=True, quiet=True)


def test_resume_on_a_changed_dataset_is_refused(run, tmp_path, capsys):
    run_dir, _ = run
    other = make_dataset(tmp_path / "changed", n_tunes=30, seed=5)  # other tunes: another content fingerprint
    dest = _copy_run(run_dir, tmp_path)
    with pytest.raises(CheckpointError, match="fingerprint [0-9a-f]{16} but the dataset now has [0-9a-f]{16}"):
        train(tiny_config(other, "train.steps=8"), run_dir=dest, resume=True, quiet=True)
    rc = main(["-q", "train", "--resume", str(dest), "--set", f"data.dataset={other}"])
    err = capsys.readouterr().err
    assert rc == 2 and "fingerprint" in err and err.count("\n") == 1


def test_resume_without_a_checkpoint(tmp_path, run):
    with pytest.raises(CheckpointError, match="no checkpoint to resume"):
        train(tiny_config(run[1]), run_dir=tmp_path / "empty", resume=True, quiet=True)


def test_rng_state_round_trip():
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_export_adds_the_mode_counts_and_register_to_a_checkpoint_without_them(run, tmp_path):
    import json

    from musicgate.data.corpora import load_prepared
    from musicgate.train.export import export_model

    run_dir, data = run
    raw = torch.load(run_dir / "best.pt", weights_only=True)
    counts = raw["dataset"].pop("modes")          # as a checkpoint from before they were recorded
    register = raw["dataset"].pop("register")
    old = tmp_path / "old-run"
    old.mkdir()
    save_checkpoint(raw, old / "best.pt")
    entry = export_model(old, tmp_path / "models", "m", data=load_prepared(data), max_tunes=4)
    assert entry["dataset"]["modes"] == counts
    assert json.loads((tmp_path / "models" / "models.json").read_text())["m"]["dataset"]["modes"] == counts
    assert load_model(tmp_path / "models" / "m.pt")[2]["dataset"]["modes"] == counts
    assert entry["dataset"]["register"] == register and load_model(tmp_path / "models" / "m.pt")[2]["dataset"]["register"] == register
