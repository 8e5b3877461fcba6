"""``musicgate.speech.run``: the speech sub-commands as library calls (the CLI only parses)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from speechclips import burst, make_fsdd

from musicgate.errors import ConfigError, OutputError
from musicgate.speech.run import SPEECH_RUN_FILES, check_run_folder, evaluate_run, gates_file, predict_file, train_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("speechrun")
    fsdd = make_fsdd(root / "fsdd", takes=6)
    logged: list[str] = []
    result = train_run(f"fsdd:{fsdd}", output=root / "run", cell="lstm", hidden=12, epochs=4, lr=0.01,
                       batch_size=8, log=logged.append)
    yield root, result, logged
    torch.set_num_threads(before)


def test_train_run_writes_the_run_folder_and_returns_what_it_measured(run):
    root, result, logged = run
    assert result.output == root / "run"
    assert {p.name for p in result.output.iterdir()} == SPEECH_RUN_FILES - {"confusion-eval.png"}
    metrics = json.loads((result.output / "metrics.json").read_text())
    assert metrics["test_accuracy"] == result.accuracy and metrics["test_clips"] == result.test_clips == 3 * 2 * 5
    assert len(json.loads((result.output / "history.json").read_text())) == 4
    assert json.loads((result.output / "config.json").read_text())["cell"] == "lstm"
    assert "precision" in result.report and (result.output / "report.txt").read_text().strip() == result.report
    assert len(logged) == 1 and logged[0].startswith("data: ") and "6 train, 30 test clips" in logged[0]


def test_evaluate_run_gives_the_saved_accuracy(run, tmp_path):
    _, result, _ = run
    ev = evaluate_run(result.output, png=tmp_path / "c.png")
    assert ev.accuracy == pytest.approx(result.accuracy) and ev.test_clips == result.test_clips
    assert ev.png == tmp_path / "c.png" and ev.png.stat().st_size > 0


def test_predict_file_streams_one_guess_per_frame(run, tmp_path):
    _, result, _ = run
    clip = tmp_path / "clip.wav"
    sf.write(clip, burst(1, seed=5), 8000)
    pred = predict_file(result.output / "model.pt", clip, stream=True)
    assert pred.label in {"0", "1", "2"} and 0 < pred.probability <= 1
    assert len(pred.frames) > 10 and pred.frames[-1][0] == pred.label
    assert pred.frames[-1][1] == pytest.approx(pred.probability, abs=1e-4)
    assert predict_file(result.output, clip).frames == []


def test_gates_file_refuses_a_layer_the_model_lacks(run, tmp_path):
    _, result, _ = run
    clip = tmp_path / "clip.wav"
    sf.write(clip, burst(2, seed=6), 8000)
    with pytest.raises(ConfigError, match="has 1 layer"):
        gates_file(result.output, clip, tmp_path / "g", layer=3)


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"")
    with pytest.raises(OutputError, match="last.pt"):
        check_run_folder(tmp_path)
    check_run_folder(tmp_path / "new")  # absent: fine


def test_training_progress_is_plain_lines_with_a_rate_off_a_terminal(tmp_path, capsys):
    from musicgate.speech.classify import train_classifier
    from musicgate.speech.data import SpeechSet

    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(int(n), 3)).astype(np.float32) for n in rng.integers(5, 9, 16)]
    data = SpeechSet(feats, np.arange(16) % 2, ["a", "b"])
    train_classifier(data, cell="gru", hidden=4, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("train gru: 3/3 epoch (100%), ") and ("epoch/s" in last or "s/epoch" in last)
    assert "loss=" in last and "acc=" in last
    train_classifier(data, cell="gru", hidden=4, epochs=2, progress=False)
    assert capsys.readouterr().err == ""
