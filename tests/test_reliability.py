"""Runs that meet: locks on a run and on a dataset cache, and leftovers of killed runs."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from midifile import off, on, smf

from musicgate.cli import main
from musicgate.errors import BusyError, OutputError
from musicgate.files import (check_name, check_writable_dir, pid_lock, remove_stale_temporaries,
                             staging_dir)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    lock = tmp_path / "run" / ".train.lock"
    with pid_lock(lock, what="run x"):
        with pytest.raises(BusyError, match=f"run x is in use by process {os.getpid()}"):
            with pid_lock(lock, what="run x"):
                pass
    with pid_lock(lock, what="run x"):  # released: taken again
        pass


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    lock = tmp_path / ".train.lock"
    lock.write_text(f"{_dead_pid()}\n")
    with pid_lock(lock, what="run x"):
        assert lock.read_text().strip() == str(os.getpid())


def test_train_resume_twice_refuses_the_second(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: {cell: gru}\n")
    with pid_lock(run / ".train.lock", what=f"run {run}"):
        rc = main(["-q", "train", "--resume", str(run)])
    err = capsys.readouterr().err
    assert rc == 2 and f"in use by process {os.getpid()}" in err and len(err.strip().splitlines()) == 1


def test_two_prepares_at_once_build_one_cache(tmp_path):
    from musicgate.data.corpora import prepare
    from musicgate.data.dataset import open_dataset

    src = tmp_path / "midi"
    src.mkdir()
    for i in range(8):
        (src / f"t{i}.mid").write_bytes(smf([(0, on(60 + i)), (480, off(60 + i)), (0, on(64)), (480, off(64))]))
    results, errors = [], []

    def run():
        try:
            results.append(prepare(f"midi:{src}", root=tmp_path / "datasets", workers=1, quiet=True))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 2
    a, b = results
    assert a.fingerprint == b.fingerprint == open_dataset(a.path).fingerprint
    assert a.manifest["built_seconds"] == b.manifest["built_seconds"]  # built once, loaded once
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir() if not p.name.startswith(".")) == [a.path.name]


def test_staging_folders_of_dead_runs_are_removed_on_the_next_run(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f".musicgate-generate-{dead}-abc123"
    stale.mkdir()
    (stale / "big.wav").write_bytes(b"\0" * 1000)
    tmp_file = tmp_path / f".x.mid.{dead}-0badbeef-3.tmp"
    tmp_file.write_bytes(b"half")
    mine = tmp_path / f".musicgate-generate-{alive}-zzz"
    mine.mkdir()
    other = tmp_path / ".musicgate-notes"  # not ours to judge: no pid in the name
    other.mkdir()
    new = staging_dir(tmp_path, "generate")
    assert not stale.exists() and not tmp_file.exists()
    assert mine.exists() and other.exists() and new.is_dir() and f"-{alive}-" in new.name
    assert remove_stale_temporaries(tmp_path / "nope") == []


def test_generate_removes_what_a_killed_generate_left(tmp_path):
    import importlib

    torch = pytest.importorskip("torch")
    from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
    from musicgate.nn.models import RecurrentLM
    from musicgate.tokens.tokenizer import make_tokenizer

    tok = make_tokenizer("melody")
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=8, layers=1)
    save_checkpoint(make_checkpoint(model=model, config={}, tokenizer=tok, dataset={"name": "t"}, step=0,
                                    best_val_loss=None), tmp_path / "m.pt")
    out = tmp_path / "out"
    stale = out / f".musicgate-generate-{_dead_pid()}-q1w2e3"
    stale.mkdir(parents=True)
    (stale / "m_C-major_1_0.wav").write_bytes(b"\0" * 4096)
    assert main(["-q", "generate", "--model", str(tmp_path / "m.pt"), "--length", "4", "--seed", "1",
                 "-o", str(out)]) == 0
    assert not stale.exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    importlib.invalidate_caches()


@pytest.mark.parametrize("name", ["../../evil", "a/b", "..", ".", "", ".hidden", "a\\b"])
def test_a_name_is_not_a_path(name):
    with pytest.raises(OutputError, match="not a plain name"):
        check_name(name)
    assert check_name("folk-lstm") == "folk-lstm"


def test_unwritable_folders_are_found_without_writing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable_dir(blocker / "a" / "b")
    with pytest.raises(OutputError, match="cannot write there"):
        check_writable_dir("/proc/musicgate-test/out")
    assert check_writable_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path) == ["file"]


def test_one_trim_for_every_path_and_no_speech_in_silence_or_a_tone(tmp_path, capsys):
    import numpy as np
    import soundfile as sf
    from speechclips import burst, make_fsdd

    from musicgate.speech.features import FeatureConfig, features

    config = FeatureConfig(sample_rate=8000)
    word = burst(1, seed=3)
    padded = np.concatenate([np.zeros(4000, np.float32), word, np.zeros(6000, np.float32)])
    a, b = features(padded, config), features(word, config)  # the silence around the word is trimmed
    assert len(a) <= len(b) + config.n_fft // config.hop_length + 1 and len(a) < len(padded) // config.hop_length / 3

    run = tmp_path / "run"
    assert main(["-q", "speech", "train", "--data", f"fsdd:{make_fsdd(tmp_path / 'fsdd', takes=6)}",
                 "--hidden", "4", "--epochs", "1", "-o", str(run)]) == 0
    t = np.arange(16000) / 16000
    clips = {"silence.wav": np.zeros(16000, np.float32),
             "hum.wav": (0.01 * np.random.default_rng(0).standard_normal(16000) * 1e-3).astype(np.float32),
             "sine.wav": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)}
    for name, y in clips.items():
        sf.write(tmp_path / name, y, 16000)
        capsys.readouterr()
        assert main(["speech", "predict", str(run), str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert "no speech detected" in err and name in err and len(err.strip().splitlines()) == 1
    sf.write(tmp_path / "word.wav", padded, 8000)
    assert main(["speech", "predict", str(run), str(tmp_path / "word.wav")]) == 0
