"""``musicgate speech train|eval|predict`` through the CLI on tiny folders made in code."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from speechclips import burst, make_commands, make_fsdd

from musicgate.cli import main
from musicgate.speech.data import SpeechSet, save_npz


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A GRU trained on a 3-digit FSDD folder of tone bursts (official split)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("speechcli")
    fsdd = make_fsdd(root / "fsdd", takes=7)
    run = root / "run"
    rc = main(["-q", "speech", "train", "--data", f"fsdd:{fsdd}", "--cell", "gru", "--hidden", "16",
               "--epochs", "12", "--lr", "0.01", "--batch-size", "8", "-o", str(run)])
    assert rc == 0
    yield root, fsdd, run
    torch.set_num_threads(before)


def test_train_writes_a_self_describing_run(trained):
    _, _, run = trained
    assert {"model.pt", "config.json", "metrics.json", "history.json", "report.txt", "confusion.png"} <= \
        {p.name for p in run.iterdir()}
    config = json.loads((run / "config.json").read_text())
    assert config["cell"] == "gru" and config["features"]["sample_rate"] == 16000
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_clips"] == 3 * 2 * 5 and metrics["train_clips"] == 3 * 2 * 2
    assert len(json.loads((run / "history.json").read_text())) == 12


def test_eval_reports_the_same_accuracy(trained, capsys):
    _, _, run = trained
    capsys.readouterr()
    assert main(["speech", "eval", str(run)]) == 0
    out = capsys.readouterr().out
    saved = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    assert f"test accuracy {100 * saved:.2f}%" in out and "precision" in out
    assert (run / "confusion-eval.png").exists()


def test_predict_prints_label_and_probability(trained, tmp_path, capsys):
    _, _, run = trained
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.stack([burst(2, seed=99)] * 2, axis=1), 8000, subtype="PCM_24")  # stereo, 24-bit
    capsys.readouterr()
    assert main(["speech", "predict", str(run), str(clip), "--stream"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    label, prob, name = lines[-1].split("\t")
    assert label in {"0", "1", "2"} and 0 < float(prob.removeprefix("p=")) <= 1 and name == str(clip)
    frames = [line for line in lines if line.startswith("frame")]
    assert frames and frames[-1].split()[2] == label  # streaming ends on the whole-clip answer
    assert frames[-1].split()[3] == prob


def test_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys):
    _, _, run = trained
    fake = tmp_path / "fake.wav"
    fake.write_text("not audio")
    capsys.readouterr()
    assert main(["speech", "predict", str(run), str(fake)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fake.wav" in err and "not a readable audio file" in err
    assert main(["speech", "eval", str(tmp_path / "norun")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["speech", "predict", str(fake), str(fake)]) == 2
    assert "not a torch checkpoint" in capsys.readouterr().err
    assert main(["speech", "train", "--data", "nonsense", "-o", str(tmp_path / "r")]) == 2
    assert "unknown --data" in capsys.readouterr().err


def test_npz_run_cannot_predict_wavs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = SpeechSet([rng.standard_normal((int(rng.integers(3, 9)), 13)).astype(np.float32) for _ in range(20)],
                     np.arange(20) % 2, ("a", "b"))
    npz = save_npz(data, tmp_path / "tiny.npz")
    run = tmp_path / "run"
    assert main(["-q", "speech", "train", "--data", str(npz), "--cell", "rnn", "--hidden", "4",
                 "--epochs", "1", "-o", str(run)]) == 0
    clip = tmp_path / "c.wav"
    sf.write(clip, burst(0, seed=1), 8000)
    capsys.readouterr()
    assert main(["speech", "predict", str(run), str(clip)]) == 2
    assert "precomputed" in capsys.readouterr().err
    assert main(["speech", "eval", str(run)]) == 0


def test_commands_folder_trains(tmp_path, capsys):
    root = make_commands(tmp_path / "sc")
    assert main(["-q", "speech", "train", "--data", f"commands:{root}", "--cell", "lstm", "--hidden", "4",
                 "--epochs", "1", "--features", "logmel", "--no-deltas", "-o", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "training vs testing_list.txt" in out and "8 train, 4 test" in out
