"""The training loop: files, resume equals an uninterrupted run, Ctrl-C, NaN, early stopping, CLI."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from musicgate.nn.checkpoint import load_checkpoint
from musicgate.cli import main
from musicgate.train.config import load_config
from musicgate.errors import ConfigError, DataError, RunFailure
from musicgate.train.loop import _Trainer, train
from musicgate.train.util import Distributed, pick_device, read_metrics
from synthetic_data import REPO, make_dataset, tiny_config


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "mini", n_tunes=40)


@pytest.fixture(scope="module")
def medley_data(tmp_path_factory):
    """Enough held-out tunes of each mode for medley streams of 96 tokens."""
    return make_dataset(tmp_path_factory.mktemp("data") / "medley", n_tunes=100)


def test_a_tiny_run_learns_and_leaves_its_files(dataset, tmp_path):
    cfg = tiny_config(dataset)
    result = train(cfg, run_dir=tmp_path / "run", quiet=True)
    assert result.stopped == "done" and result.step == cfg.train.steps
    assert len(result.losses) == cfg.train.steps
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5]) - 0.5
    for name in ("config.yaml", "metrics.csv", "last.pt", "best.pt", "loss.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0, name
    assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    saved = load_config(tmp_path / "run" / "config.yaml")
    assert saved.model.hidden == 32 and saved.data.dataset == str(dataset)
    m = read_metrics(tmp_path / "run" / "metrics.csv")
    assert list(m["step"]) == list(range(1, cfg.train.steps + 1))
    assert np.allclose(m["loss"], result.losses)
    assert list(m["val_step"]) == list(range(cfg.train.eval_every, cfg.train.steps + 1, cfg.train.eval_every))
    assert result.best_val_loss == pytest.approx(m["val_loss"].min())
    assert result.tokens_per_s > 0
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best.best_val_loss == pytest.approx(result.best_val_loss)


MEDLEY = ("data.mode=medley", "data.medley_tokens=96", "train.carry_state=true")  # streams of 3 windows of 32


@pytest.mark.parametrize("cell, mode", [("gru", "window"), ("rnn", "tune"), ("lstm", "tune"), ("lstm", "medley"),
                                        ("gru", "medley"), ("minlstm", "medley")])
def test_stop_and_resume_matches_an_uninterrupted_run(dataset, medley_data, tmp_path, cell, mode):
    dataset = medley_data if mode == "medley" else dataset
    over = [f"model.cell={cell}", f"data.mode={mode}", "model.layers=2", "model.dropout=0.3",
            "train.steps=14", "train.eval_every=4", "train.checkpoint_every=100", "train.log_every=3",
            *(MEDLEY if mode == "medley" else ())]
    cfg = tiny_config(dataset, *over)
    whole = train(cfg, run_dir=tmp_path / "whole", quiet=True)
    part = train(cfg, run_dir=tmp_path / "cut", quiet=True, stop_after=6)
    assert (part.stopped, part.step) == ("stop_after", 6)
    assert load_checkpoint(tmp_path / "cut" / "last.pt").step == 6
    rest = train(cfg, run_dir=tmp_path / "cut", quiet=True, resume=True)
    assert (rest.stopped, rest.step, rest.first_step) == ("done", 14, 6)
    np.testing.assert_allclose(part.losses + rest.losses, whole.losses, rtol=0, atol=1e-6)
    a, b = read_metrics(tmp_path / "whole" / "metrics.csv"), read_metrics(tmp_path / "cut" / "metrics.csv")
    assert list(b["step"]) == list(range(1, 15))
    np.testing.assert_allclose(b["loss"], a["loss"], atol=1e-6)
    np.testing.assert_allclose(b["val_loss"], a["val_loss"], atol=1e-6)
    wa = load_checkpoint(tmp_path / "whole" / "last.pt").model_state
    wb = load_checkpoint(tmp_path / "cut" / "last.pt").model_state
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_resume_mid_stream_needs_the_carried_state(medley_data, tmp_path):
    """Step 7 continues a stream (3 windows each): the saved state is what makes the resume exact."""
    cfg = tiny_config(medley_data, *MEDLEY, "train.steps=9", "train.eval_every=100", "train.checkpoint_every=100")
    whole = train(cfg, run_dir=tmp_path / "whole", quiet=True)
    train(cfg, run_dir=tmp_path / "cut", quiet=True, stop_after=7)
    last = tmp_path / "cut" / "last.pt"
    ckpt = torch.load(last, weights_only=True)
    h, c = ckpt["trainer"]["carried_state"]                     # the LSTM's (h, c), all 8 rows
    assert h.shape == c.shape == (1, 8, 32) and h.abs().sum() > 0
    ckpt["trainer"]["carried_state"] = (torch.zeros_like(h), torch.zeros_like(c))
    torch.save(ckpt, tmp_path / "zeroed.pt")
    rest = train(cfg, run_dir=tmp_path / "cut", quiet=True, resume=True)
    np.testing.assert_allclose(rest.losses, whole.losses[7:], rtol=0, atol=1e-6)
    (tmp_path / "zeroed.pt").replace(last)
    (tmp_path / "cut" / "metrics.csv").unlink()
    forgot = train(cfg, run_dir=tmp_path / "cut", quiet=True, resume=True)
    assert abs(forgot.losses[0] - whole.losses[7]) > 1e-4        # from zeros, step 8 is another loss


def test_carried_state_reads_each_stream_as_one_sequence(medley_data, tmp_path):
    """With the weights frozen, each window's loss from the carried state equals the loss of that
    window in one forward pass over the whole stream; validation reads held-out streams the same way."""
    cfg = tiny_config(medley_data, *MEDLEY, "model.cell=gru", "train.lr=0", "train.weight_decay=0",
                      "train.schedule=constant", "train.steps=6", "train.eval_every=6", "train.eval_batches=2")
    result = train(cfg, run_dir=tmp_path / "run", quiet=True)
    trainer = _Trainer(cfg, tmp_path / "run", Distributed(), torch.device("cpu"), resume=True, quiet=True)
    model = trainer.model.eval()
    pad = trainer.data.tokenizer.pad_id

    def stream_losses(sampler, steps):  # per-window mean loss, one forward over each whole stream
        k, out = sampler.stream_windows, []
        for g in range(steps // k):
            batches = [sampler.batch(g * k + j) for j in range(k)]
            x = torch.cat([b.inputs for b in batches], dim=1)
            y = torch.cat([b.targets for b in batches], dim=1)
            with torch.no_grad():
                logits, _ = model(x)
            nll = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=pad, reduction="none")
            out += [float(w.sum()) / b.n_targets for w, b in zip(nll.split(32, dim=1), batches)]
        return out

    assert trainer.sampler.stream_windows == 3
    np.testing.assert_allclose(result.losses, stream_losses(trainer.sampler, 6), rtol=1e-5)
    first, second = trainer.sampler.batch(0), trainer.sampler.batch(1)
    with torch.no_grad():
        whole, _ = model(torch.cat([first.inputs, second.inputs], dim=1))
        fresh, _ = model(second.inputs)                       # the second window from zeros instead
    assert (whole[:, 32] - fresh[:, 0]).abs().max() > 1e-2    # so the carried state is what matched
    assert len(trainer.val_batches) == 3                                        # eval_batches 2 -> one whole stream
    from musicgate.data.dataset import WindowSampler
    valid = WindowSampler(trainer.data, "valid", window=32, batch_size=8, mode="medley", medley_tokens=96,
                          transpose=False, seed=cfg.train.seed + 1)
    assert result.val_loss == pytest.approx(np.mean(stream_losses(valid, 3)), rel=1e-5)


def test_medley_without_carried_state_is_plain_long_windows(medley_data, tmp_path):
    cfg = tiny_config(medley_data, "data.mode=medley", "data.medley_tokens=4096", "train.steps=3")
    result = train(cfg, run_dir=tmp_path / "run", quiet=True)
    assert result.step == 3 and load_checkpoint(tmp_path / "run" / "last.pt").trainer["carried_state"] is None
    trainer = _Trainer(cfg, tmp_path / "run", Distributed(), torch.device("cpu"), resume=True, quiet=True)
    assert trainer.sampler.stream_windows == 1                  # medley_tokens unused: one window per stream
    b = trainer.sampler.batch(1)
    assert not b.continues and (b.inputs[:, 0] == trainer.data.tokenizer.bos_id).all()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_saves_and_exits_cleanly(dataset, tmp_path, monkeypatch, sig):
    cfg = tiny_config(dataset, "train.steps=400", "train.checkpoint_every=1000", "train.eval_every=1000")
    seen = []
    real = _Trainer._train_step
    before = signal.getsignal(sig)

    def step_and_signal(self, batch):
        out = real(self, batch)
        seen.append(self.step)
        if len(seen) == 3:  # as if the user pressed Ctrl-C during step 4
            os.kill(os.getpid(), sig)
        return out

    monkeypatch.setattr(_Trainer, "_train_step", step_and_signal)
    result = train(cfg, run_dir=tmp_path / "run", quiet=True)
    assert result.stopped == "interrupted" and 3 <= result.step < 400
    assert load_checkpoint(tmp_path / "run" / "last.pt").step == result.step
    assert signal.getsignal(sig) is before
    monkeypatch.setattr(_Trainer, "_train_step", real)
    rest = train(load_config(REPO / "configs" / "tiny.yaml", [f"data.dataset={dataset}", "train.steps=8"]),
                 run_dir=tmp_path / "run", quiet=True, resume=True)
    assert rest.step == 8 and rest.first_step == result.step


def test_nan_loss_stops_names_the_step_and_keeps_the_last_good_checkpoint(dataset, tmp_path, monkeypatch):
    cfg = tiny_config(dataset, "train.checkpoint_every=5", "train.log_every=1")
    real = _Trainer._loss_sum

    def poisoned(self, net, batch, state=None, **kw):
        loss, state, logits = real(self, net, batch, state, **kw)
        return (loss * float("nan") if net.training and self.step == 7 else loss), state, logits  # step 8 is bad

    monkeypatch.setattr(_Trainer, "_loss_sum", poisoned)
    with pytest.raises(RunFailure, match=r"at step 8\b.*last\.pt \(step 5\) is kept"):
        train(cfg, run_dir=tmp_path / "run", quiet=True)
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt.step == 5
    assert all(torch.isfinite(v).all() for v in ckpt.model_state.values())
    assert RunFailure.exit_code == 1


def test_early_stopping_and_plateau(dataset, tmp_path):
    cfg = tiny_config(dataset, "train.schedule=constant", "train.lr=0", "train.weight_decay=0",
                      "train.patience=2", "train.eval_every=5", "train.steps=100")
    result = train(cfg, run_dir=tmp_path / "stop", quiet=True)
    # lr = 0: the first evaluation is the best, the next two do not improve.
    assert result.stopped == "early_stop" and result.step == 15
    assert load_checkpoint(tmp_path / "stop" / "best.pt").step == 5
    cfg = tiny_config(dataset, "train.schedule=plateau", "train.lr=0.01", "train.plateau_patience=0",
                      "train.plateau_factor=0.5", "train.eval_every=2", "train.steps=20")
    result = train(cfg, run_dir=tmp_path / "plateau", quiet=True)
    lrs = [float(r.split(",")[4]) for r in (tmp_path / "plateau" / "metrics.csv").read_text().splitlines()[1:]
           if r.split(",")[4]]
    assert lrs[0] == pytest.approx(0.01)
    assert all(math.isclose(lr / 0.01, 0.5 ** round(math.log2(0.01 / lr))) for lr in lrs)


def test_bad_runs_are_refused(dataset, tmp_path):
    with pytest.raises(DataError, match="event"):
        train(tiny_config(dataset, "data.vocab=event"), run_dir=tmp_path / "a", quiet=True)
    with pytest.raises(DataError, match="prepare"):
        train(tiny_config(tmp_path / "no-such-data"), run_dir=tmp_path / "b", quiet=True)
    cfg = tiny_config(dataset, "train.steps=2")
    train(cfg, run_dir=tmp_path / "c", quiet=True)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg, run_dir=tmp_path / "c", quiet=True)


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        pick_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            pick_device("cuda")


def test_cli_train_resume_and_errors(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    cfg = REPO / "configs" / "tiny.yaml"
    rc = main(["-q", "train", str(cfg), "--set", f"data.dataset={dataset}", "--set", "train.steps=6",
               "--run-dir", str(run), "--device", "cpu", "--stop-after", "4"])
    assert rc == 0 and "stop_after at step 4" in capsys.readouterr().out
    rc = main(["-q", "train", "--resume", str(run)])
    assert rc == 0 and "done at step 6" in capsys.readouterr().out
    rc = main(["-q", "train", str(cfg), "--set", "model.hiden=3", "--run-dir", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "model.hiden" in err and "hidden" in err and err.count("\n") == 1
    assert main(["-q", "train"]) == 2 and "CONFIG.yaml" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(dataset, tmp_path):
    """A run killed with SIGKILL continues from its last checkpoint; the curve is unchanged."""
    over = ["--set", f"data.dataset={dataset}", "--set", "train.steps=60", "--set", "train.checkpoint_every=5",
            "--set", "train.eval_every=20", "--set", "model.dropout=0.2", "--set", "model.layers=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "musicgate", "-q", "train", str(REPO / "configs" / "tiny.yaml"), *over]
    subprocess.run([*base, "--run-dir", str(tmp_path / "whole")], check=True, env=env, timeout=300)
    proc = subprocess.Popen([*base, "--run-dir", str(tmp_path / "killed")], env=env)
    last = tmp_path / "killed" / "last.pt"
    deadline = time.time() + 240
    while time.time() < deadline:
        if last.exists() and load_checkpoint(last).step >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(last).step
    assert 10 <= killed_at < 60
    subprocess.run([sys.executable, "-m", "musicgate", "-q", "train", "--resume", str(tmp_path / "killed")],
                   check=True, env=env, timeout=300)
    a, b = read_metrics(tmp_path / "whole" / "metrics.csv"), read_metrics(tmp_path / "killed" / "metrics.csv")
    assert list(b["step"]) == list(range(1, 61))
    np.testing.assert_allclose(b["loss"], a["loss"], atol=1e-6)
    np.testing.assert_allclose(b["val_loss"], a["val_loss"], atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["window", "medley"])
def test_two_process_ddp_equals_one_process(dataset, medley_data, tmp_path, mode):
    """torchrun, 2 processes, gloo on CPU: the same losses and weights as one process, same global batch
    (medley: each rank carries the state of its own rows; the checkpoint holds all rows)."""
    over = ["--set", f"data.dataset={medley_data if mode == 'medley' else dataset}", "--set", "train.steps=8",
            "--set", "train.batch_size=8", "--set", "train.eval_every=4", "--set", "model.layers=2",
            "--set", f"data.mode={mode}", "--set", "train.checkpoint_every=5"]
    if mode == "medley":
        over += [x for item in MEDLEY[1:] for x in ("--set", item)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = ["-m", "musicgate", "-q", "train", str(REPO / "configs" / "tiny.yaml"), *over, "--device", "cpu"]
    subprocess.run([sys.executable, *cmd, "--run-dir", str(tmp_path / "one")], check=True, env=env, timeout=300)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    subprocess.run([*torchrun, *cmd, "--run-dir", str(tmp_path / "two")], check=True, env=env, timeout=300)
    a, b = read_metrics(tmp_path / "one" / "metrics.csv"), read_metrics(tmp_path / "two" / "metrics.csv")
    assert list(b["step"]) == list(range(1, 9))
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b["val_loss"], a["val_loss"], rtol=1e-5, atol=1e-5)
    wa = load_checkpoint(tmp_path / "one" / "last.pt").model_state
    wb = load_checkpoint(tmp_path / "two" / "last.pt").model_state
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-5)
    assert len(load_checkpoint(tmp_path / "two" / "last.pt").trainer["rng"]) == 2
    if mode == "medley":
        sa = load_checkpoint(tmp_path / "one" / "last.pt").trainer["carried_state"]
        sb = load_checkpoint(tmp_path / "two" / "last.pt").trainer["carried_state"]
        assert len(sa) == len(sb) == 2 and sa[0].shape == (2, 8, 32)   # the LSTM's (h, c), 2 layers, 8 rows
        for x, y in zip(sa, sb):
            torch.testing.assert_close(y, x, rtol=1e-4, atol=1e-5)


def test_gate_initialisation_is_a_model_option(dataset, tmp_path):
    """model.init sets the keep-gate biases of a new model (recorded in the run's config); bad
    settings are one ConfigError before any work."""
    import dataclasses

    from musicgate.nn.init import keep_gate_at_rest
    from musicgate.train.config import config_from_dict

    cfg = tiny_config(dataset)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, cell="lstm", init="forget1"),
                              train=dataclasses.replace(cfg.train, steps=1, eval_every=1))
    trainer = _Trainer(cfg, tmp_path / "run", *_single_process(), resume=False, quiet=True)
    keep = keep_gate_at_rest(trainer.model.rnn)  # before any step: sigmoid(1) ~ 0.73 everywhere
    assert np.allclose(keep, 1 / (1 + math.exp(-1)), atol=1e-6)
    plain = _Trainer(tiny_config(dataset), tmp_path / "plain", *_single_process(), resume=False, quiet=True)
    assert not np.allclose(keep_gate_at_rest(plain.model.rnn), 1 / (1 + math.exp(-1)), atol=1e-3)
    for bad, phrase in [({"init": "bogus"}, "not one of default, forget1, chrono"),
                        ({"init": "chrono"}, "needs model.init_t_max > 1"),
                        ({"init": "forget1", "cell": "rnn"}, "has no gates")]:
        with pytest.raises(ConfigError, match=phrase):
            config_from_dict({"model": bad})


def _single_process():
    from musicgate.train.util import Distributed

    return Distributed(), torch.device("cpu")


def test_a_run_can_start_from_a_trained_model(dataset, tmp_path):
    """model.start_from copies a checkpoint's weights into a new run (fine-tuning, e.g. a tune model
    on medleys); another size or initialisation beside it is one ConfigError."""
    import dataclasses

    from musicgate.train.config import config_from_dict

    cfg = tiny_config(dataset)
    train(cfg, run_dir=tmp_path / "first", quiet=True)
    first = load_checkpoint(tmp_path / "first" / "last.pt")
    tuned = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, start_from=str(tmp_path / "first" / "last.pt")),
                                train=dataclasses.replace(cfg.train, steps=1, eval_every=1))
    trainer = _Trainer(tuned, tmp_path / "tuned", *_single_process(), resume=False, quiet=True)
    for name, value in trainer.model.state_dict().items():  # before any step: the first run's weights
        assert torch.equal(value, first.model_state[name]), name
    fresh = _Trainer(tiny_config(dataset), tmp_path / "fresh", *_single_process(), resume=False, quiet=True)
    assert not torch.equal(fresh.model.head.weight, first.model_state["head.weight"])
    other = dataclasses.replace(tuned, model=dataclasses.replace(tuned.model, hidden=cfg.model.hidden + 8))
    with pytest.raises(ConfigError, match="is a different model"):
        _Trainer(other, tmp_path / "other", *_single_process(), resume=False, quiet=True)
    with pytest.raises(ConfigError, match="applies to new weights only"):
        config_from_dict({"model": {"cell": "lstm", "init": "forget1", "start_from": "folk-lstm"}})


def test_train_only_moves_the_named_weights_and_nothing_else(dataset, tmp_path):
    """train.only trains the weights whose names start with a prefix (the copy head of a trained model)
    and leaves every other weight exactly as it started; a resumed run keeps them frozen; a prefix
    that names no weight, or an empty one, is one ConfigError naming the weights there are."""
    import dataclasses

    from musicgate.train.config import config_from_dict

    cfg = tiny_config(dataset)
    train(cfg, run_dir=tmp_path / "first", quiet=True)
    first = load_checkpoint(tmp_path / "first" / "last.pt").model_state
    tuned = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, start_from=str(tmp_path / "first" / "last.pt")),
                                train=dataclasses.replace(cfg.train, steps=4, only=["head."], checkpoint_every=2))
    train(tuned, run_dir=tmp_path / "tuned", quiet=True)
    after = load_checkpoint(tmp_path / "tuned" / "last.pt").model_state
    moved = {name for name in first if not torch.equal(first[name], after[name])}
    assert moved == {"head.weight", "head.bias"}
    resumed = _Trainer(tuned, tmp_path / "tuned", *_single_process(), resume=True, quiet=True)
    assert {n for n, p in resumed.model.named_parameters() if p.requires_grad} == {"head.weight", "head.bias"}
    with pytest.raises(ConfigError, match=r"train.only 'look.copy' names none of this model's weights; they start with .*head.weight"):
        _Trainer(dataclasses.replace(tuned, train=dataclasses.replace(tuned.train, only=["look.copy"])),
                 tmp_path / "other", *_single_process(), resume=False, quiet=True)
    with pytest.raises(ConfigError, match="weight-name prefixes"):
        config_from_dict({"train": {"only": [""]}})


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padded_tunes_need_no_packing(cell):
    """Whole tunes are padded at the end and start from zeros: the loss at the real tokens is the
    same with and without packing (what the training loop relies on to skip it)."""
    from musicgate.nn.models import RecurrentLM

    torch.manual_seed(0)
    net = RecurrentLM(vocab_size=30, cell=cell, hidden=16, layers=2).eval()
    lengths = torch.tensor([12, 5, 9])
    x = torch.randint(1, 30, (3, 12))
    y = torch.randint(1, 30, (3, 12))
    for row, n in enumerate(lengths.tolist()):
        x[row, n:] = 0
        y[row, n:] = 0  # padding targets are ignored
    losses = []
    for lens in (lengths, None):
        logits, _ = net(x, lengths=lens)
        losses.append(F.cross_entropy(logits.reshape(-1, 30), y.reshape(-1), ignore_index=0, reduction="sum"))
    assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-6)
    assert losses[0].item() != pytest.approx(F.cross_entropy(net(x)[0].reshape(-1, 30), y.reshape(-1),
                                                             reduction="sum").item(), rel=1e-3)  # padding counted: differs


def test_form_inputs_and_the_last_bar_weight_train_on_whole_tunes(dataset, tmp_path):
    base = ("data.mode=tune", "data.window=400", "train.steps=2", "train.eval_every=2")  # whole tunes, with EOS
    plain = train(tiny_config(dataset, *base), run_dir=tmp_path / "plain", quiet=True)
    heavy = train(tiny_config(dataset, *base, "train.final_bar_weight=4"), run_dir=tmp_path / "heavy", quiet=True)
    assert heavy.losses[0] > plain.losses[0] * 1.05  # same weights and batch at step 1; the last bars count 4x
    form = train(tiny_config(dataset, *base, "model.form_inputs=8"), run_dir=tmp_path / "form", quiet=True)
    assert form.losses[0] == pytest.approx(plain.losses[0])  # the form tables start at zero
    ckpt = load_checkpoint(tmp_path / "form" / "last.pt")
    assert ckpt.model_args["form_inputs"] == 8 and ckpt.build_model("cpu").form.count.weight.abs().sum() > 0
    with pytest.raises(ConfigError, match="final_bar_weight"):
        tiny_config(dataset, "train.final_bar_weight=0.5")


def test_noisy_inputs_move_only_note_starts_by_one_or_two_semitones():
    from hypothesis import given, settings, strategies as st
    from musicgate.data.dataset import noisy_inputs
    from musicgate.tokens.tokenizer import EventTokenizer, MelodyTokenizer

    tok = MelodyTokenizer(pitch_range=(60, 84))            # 25 pitches
    pitch_of = tok.pitch_of
    x = torch.as_tensor(np.random.default_rng(0).integers(0, len(tok), (64, 200)))
    assert noisy_inputs(x, tok, 0.0, 1) is x
    y = noisy_inputs(x, tok, 0.25, [3, 7, 0])
    changed = (y != x).numpy()
    xn, yn = x.numpy(), y.numpy()
    assert (pitch_of[xn[changed]] >= 0).all() and (pitch_of[yn[changed]] >= 0).all()   # only pitches, to pitches
    assert set(np.unique(pitch_of[yn[changed]] - pitch_of[xn[changed]])) == {-2, -1, 1, 2}
    share = changed.sum() / (pitch_of[xn] >= 0).sum()
    assert 0.2 < share < 0.25        # a quarter drawn; moves off the range's ends stay put
    assert torch.equal(noisy_inputs(x, tok, 0.25, [3, 7, 0]), y)        # a resumed run draws the same
    assert not torch.equal(noisy_inputs(x, tok, 0.25, [3, 8, 0]), y)

    @settings(max_examples=50, deadline=None)
    @given(st.integers(0, 2**31 - 1), st.floats(0.01, 0.99))
    def moves_stay_in_range(seed, p):
        z = noisy_inputs(x, tok, p, seed).numpy()
        moved = z != xn
        assert (pitch_of[z] >= 0).sum() == (pitch_of[xn] >= 0).sum()
        assert (np.abs(pitch_of[z[moved]] - pitch_of[xn[moved]]) <= 2).all()

    moves_stay_in_range()
    events = EventTokenizer(pitch_range=(60, 84))           # NOTE_OFF carries a pitch but starts no note
    e = torch.as_tensor(np.random.default_rng(1).integers(0, len(events), (32, 200)))
    f = noisy_inputs(e, events, 0.5, 0).numpy()
    moved = f != e.numpy()
    starts = events.note_starts()
    assert moved.any() and starts[e.numpy()[moved]].all() and starts[f[moved]].all()


def test_self_fed_inputs_put_the_models_own_pitches_in_place_of_real_ones():
    from musicgate.data.dataset import self_fed_inputs
    from musicgate.tokens.tokenizer import MelodyTokenizer

    tok = MelodyTokenizer(pitch_range=(60, 84))
    starts = tok.note_starts()
    x = torch.as_tensor(np.random.default_rng(0).integers(0, len(tok), (32, 300)))
    logits = torch.as_tensor(np.random.default_rng(1).normal(0, 1, (32, 300, len(tok))), dtype=torch.float32)
    assert self_fed_inputs(x, logits, tok, 0.0, 1) is x
    y = self_fed_inputs(x, logits, tok, 0.3, [3, 7, 0, 1])
    xn, yn = x.numpy(), y.numpy()
    changed = yn != xn
    assert starts[xn[changed]].all() and starts[yn[changed]].all() and not changed[:, 0].any()
    share = changed.sum() / starts[xn[:, 1:]].sum()
    assert 0.25 < share < 0.3          # a draw can pick the pitch that was there
    assert torch.equal(self_fed_inputs(x, logits, tok, 0.3, [3, 7, 0, 1]), y)   # a resumed run draws the same
    # the pitch comes from the prediction one position earlier: a model sure of E4 everywhere writes E4
    e4 = int(tok.token_of_pitch()[64])
    sure = torch.full((32, 300, len(tok)), -30.0)
    sure[..., e4] = 30.0
    z = self_fed_inputs(x, sure, tok, 0.5, 5).numpy()
    assert (z[z != xn] == e4).all() and (z != xn).sum() > 0.4 * starts[xn[:, 1:]].sum()
    # and it follows the logits' shape: half the mass on each of two pitches gives both, about equally
    g4 = int(tok.token_of_pitch()[67])
    two = torch.full((32, 300, len(tok)), -30.0)
    two[..., [e4, g4]] = 0.0
    w = self_fed_inputs(x, two, tok, 0.9, 6).numpy()
    hit = starts[xn] & (w != xn)
    counts = np.bincount(w[hit], minlength=len(tok))
    assert set(np.flatnonzero(counts)) == {e4, g4} and abs(counts[e4] - counts[g4]) < 0.1 * hit.sum()


def test_drifted_inputs_move_one_phrase_a_row_by_steps_of_its_scale():
    from musicgate.data.dataset import drifted_inputs
    from musicgate.tokens.tokenizer import MelodyTokenizer

    tok = MelodyTokenizer(pitch_range=(48, 96))
    token_of, starts = tok.token_of_pitch(), tok.note_starts()
    d_major = [62, 64, 66, 67, 69, 71, 73]
    rng = np.random.default_rng(0)
    pitches = rng.choice([p + o for p in d_major for o in (0, 12)], size=(64, 120))
    ids = token_of[pitches]
    ids[:, ::3] = tok.bar_id                                        # other tokens between the notes stay
    x = torch.as_tensor(ids)
    assert drifted_inputs(x, tok, 0.0, 1) is x
    y = drifted_inputs(x, tok, 1.0, [3, 7, 0, 2]).numpy()
    assert torch.equal(drifted_inputs(x, tok, 1.0, [3, 7, 0, 2]), torch.as_tensor(y))   # a resumed run draws the same
    scale = {p % 12 for p in d_major}
    for row_x, row_y in zip(ids, y):
        moved = np.flatnonzero(row_x != row_y)
        assert len(moved) and starts[row_x[moved]].all() and starts[row_y[moved]].all()
        assert {int(tok.pitch_of[t]) % 12 for t in row_y[moved]} <= scale    # the scale's notes, other degrees
        notes = np.flatnonzero(starts[row_x])
        inside = np.flatnonzero(np.isin(notes, moved))
        assert inside[-1] - inside[0] + 1 <= 48 and notes[0] not in moved        # one phrase, never the first note
        degree = {pc: i for i, pc in enumerate(sorted(scale))}
        steps = {(degree[int(tok.pitch_of[b]) % 12] - degree[int(tok.pitch_of[a]) % 12]) % 7
                 for a, b in zip(row_x[moved], row_y[moved])}
        assert len(steps) == 1 and steps <= {2, 5}                             # one shift a row: 2 or 5 steps (mod 7)
    half = drifted_inputs(x, tok, 0.5, 9).numpy()
    assert 16 <= (half != ids).any(axis=1).sum() <= 48                          # about half the rows


@pytest.mark.parametrize("option", ["input_noise", "self_feed", "drift_noise"])
def test_corrupted_inputs_train_validate_on_clean_ones_and_resume_exactly(option, dataset, medley_data, tmp_path):
    """train.input_noise (random moves) and train.self_feed (the model's own pitches) change what the
    model reads in training only; validation reads the real music, and a cut run resumes exactly."""
    over = ("train.steps=6", "train.eval_every=3", "train.log_every=1", *MEDLEY)
    plain = train(tiny_config(medley_data, *over), run_dir=tmp_path / "plain", quiet=True)
    noisy_cfg = tiny_config(medley_data, *over, f"train.{option}={1.0 if option == 'drift_noise' else 0.5}")
    noisy = train(noisy_cfg, run_dir=tmp_path / "noisy", quiet=True)
    assert noisy.losses[0] != plain.losses[0]           # same weights and batch at step 1, other inputs
    clean = [_Trainer(c, tmp_path / name, Distributed(), torch.device("cpu"), resume=False, quiet=True).evaluate()
             for c, name in ((tiny_config(medley_data, *over), "v1"), (noisy_cfg, "v2"))]
    assert clean[0] == clean[1]                          # same initial weights: validation reads clean music
    part = train(noisy_cfg, run_dir=tmp_path / "cut", quiet=True, stop_after=2)
    rest = train(noisy_cfg, run_dir=tmp_path / "cut", quiet=True, resume=True)
    np.testing.assert_allclose(part.losses + rest.losses, noisy.losses, rtol=0, atol=1e-6)
    for bad in (f"train.{option}=1.5" if option == "drift_noise" else f"train.{option}=1.0", f"train.{option}=-0.1"):
        with pytest.raises(ConfigError, match=option):
            tiny_config(dataset, bad)


def test_key_loss_sum_is_the_cross_entropy_of_the_stream_key_over_the_key_logits():
    from musicgate.music.keys import MODES
    from musicgate.train.loop import key_loss_sum

    n, base = 12 * len(MODES), 5
    logits = torch.zeros(2, 3, base + n + 4)
    keys = np.array([base + 7, base + n - 1])
    assert key_loss_sum(logits, keys, base).item() == pytest.approx(6 * math.log(n))      # uniform: log n a token
    logits[0, :, base + 7] = logits[1, :, base + n - 1] = 30.0
    logits[:, :, :base] = logits[:, :, base + n:] = 1e4                                    # other tokens do not count
    assert key_loss_sum(logits, keys, base).item() < 1e-9
    logits[1, 2, base + n - 1] = 0.0                                                      # one position unsure
    assert key_loss_sum(logits, keys, base).item() == pytest.approx(math.log(n), rel=1e-6)
    for bad in (None, np.array([base + 7]), np.array([base - 1, base]), np.array([base, base + n])):
        with pytest.raises(DataError, match="key_loss"):
            key_loss_sum(logits, bad, base)


def test_key_loss_teaches_the_output_layer_to_name_the_key_and_logs_the_plain_loss(dataset, medley_data, tmp_path):
    """train.key_loss: the logged and validation losses stay the likelihood (equal at step 1 and
    at the initial weights), the KEY logits learn the stream's key, and a cut run resumes exactly."""
    from musicgate.train.loop import key_loss_sum

    over = ("train.steps=24", "train.eval_every=12", "train.log_every=1", *MEDLEY)
    runs = {}
    for name, weight in (("plain", 0.0), ("keyed", 1.0)):
        cfg = tiny_config(medley_data, *over, f"train.key_loss={weight}")
        runs[name] = (cfg, train(cfg, run_dir=tmp_path / name, quiet=True))
    plain, keyed = runs["plain"][1], runs["keyed"][1]
    assert keyed.losses[0] == plain.losses[0] and keyed.losses[1:] != plain.losses[1:]

    def key_nats(name: str) -> float:      # mean key loss on held-out streams, read with the state carried
        t = _Trainer(runs[name][0], tmp_path / name, Distributed(), torch.device("cpu"), resume=True, quiet=True)
        t.model.eval()
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for batch in t.val_batches:
                logits, state = t._forward(t.model, batch, t._initial_state(batch, state))
                total += key_loss_sum(logits, batch.keys, int(t.data.tokenizer.key_base)).item()
                count += batch.targets.numel()
        return total / count
    assert key_nats("keyed") < key_nats("plain") - 0.5

    cfg = runs["keyed"][0]
    part = train(cfg, run_dir=tmp_path / "cut", quiet=True, stop_after=10)
    rest = train(cfg, run_dir=tmp_path / "cut", quiet=True, resume=True)
    np.testing.assert_allclose(part.losses + rest.losses, keyed.losses, rtol=0, atol=1e-6)
    for bad in ("train.key_loss=-1", "train.key_loss=0.5"):      # negative; a window dataset has no stream key
        with pytest.raises(ConfigError, match="key_loss"):
            tiny_config(dataset, bad)
