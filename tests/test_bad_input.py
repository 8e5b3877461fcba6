"""The bad-input matrix: every subcommand x every kind of bad input gets one line and exit code 2.

Each case runs ``musicgate.cli.main`` in-process (fast) from an empty working folder and checks
what a user sees and what is left behind: exit code 2, at most two lines on stderr, no traceback,
the bad file named in the message, nothing written outside the output folder and nothing
half-written inside it.

An unwritable output is made two ways that fail for root too (chmod does not stop root): a
regular file standing where a folder is needed (``FILE/out``: ENOTDIR), and a path under ``/proc``
(no new entries can be made there).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from midifile import off, on, smf

from musicgate.cli import build_parser, main

BAD_KINDS = ("zero-byte", "random-bytes", "truncated", "text", "directory", "missing")
UNWRITABLE = ("file-in-the-way", "proc")


def _good_midi() -> bytes:
    events = []
    for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74] * 2):
        events += [(0 if i == 0 else 0, on(p)), (240, off(p))]
    return smf([(0, b"\xff\x51\x03\x07\xa1\x20")], events)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Good inputs for every command, built once: a MIDI file, ids, a tiny LM checkpoint and run,
    a tiny dataset and config, a tiny speech run and a WAV."""
    import torch
    from speechclips import burst, make_fsdd
    from synthetic_data import make_dataset
    import soundfile as sf

    from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
    from musicgate.nn.models import RecurrentLM
    from musicgate.tokens.tokenizer import make_tokenizer

    root = tmp_path_factory.mktemp("badinput")
    good = root / "good"
    good.mkdir()
    (good / "tune.mid").write_bytes(_good_midi())
    (good / "midis").mkdir()
    (good / "midis" / "tune.mid").write_bytes(_good_midi())
    tok = make_tokenizer("melody")
    ids = tok.encode(__import__("musicgate.music.midi", fromlist=["read_midi"]).read_midi(good / "tune.mid").skyline())
    (good / "ids.json").write_text(json.dumps({"tokenizer": {**tok.config, "vocab": tok.vocab}, "ids": ids.tolist()}))
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=8, layers=1)
    payload = make_checkpoint(model=model, config={"model": {"cell": "gru"}}, tokenizer=tok,
                              dataset={"name": "nowhere"}, step=0, best_val_loss=None)
    save_checkpoint(payload, good / "lm.pt")
    (good / "run").mkdir()
    save_checkpoint(payload, good / "run" / "last.pt")
    data = make_dataset(good / "data", n_tunes=20)
    (good / "tiny.yaml").write_text(
        f"data:\n  dataset: {data}\n  window: 16\nmodel:\n  cell: gru\n  hidden: 8\n"
        "train:\n  steps: 2\n  batch_size: 4\n  eval_every: 2\n  eval_batches: 1\n  checkpoint_every: 2\n"
        "  log_every: 1\n  warmup: 1\n  device: cpu\n")
    (good / "musicrun").mkdir()
    (good / "musicrun" / "config.yaml").write_text((good / "tiny.yaml").read_text())
    fsdd = make_fsdd(root / "fsdd", takes=6)
    threads = torch.get_num_threads()
    assert main(["-q", "speech", "train", "--data", f"fsdd:{fsdd}", "--hidden", "4", "--epochs", "1",
                 "-o", str(good / "speechrun")]) == 0
    torch.set_num_threads(threads)
    sf.write(good / "clip.wav", burst(1, seed=5), 8000)
    (root / "blocker").write_text("a file where a folder should be\n")
    return root


def _bad_file(root: Path, kind: str, ext: str) -> Path:
    """A bad input of ``kind`` named ``bad-<kind><ext>`` in ``root/bad``."""
    folder = root / "bad"
    folder.mkdir(exist_ok=True)
    path = folder / f"bad-{kind}{ext}"
    if kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "random-bytes":
        path.write_bytes(np.random.default_rng(7).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        source = {".mid": root / "good" / "tune.mid", ".json": root / "good" / "ids.json",
                  ".yaml": root / "good" / "tiny.yaml", ".pt": root / "good" / "lm.pt",
                  ".wav": root / "good" / "clip.wav", ".npz": root / "good" / "data" / "splits.npz",
                  "": root / "good" / "lm.pt"}[ext].read_bytes()
        cut = {".wav": 30,  # the header cut short (a WAV cut in its samples is a shorter clip, not bad)
               ".yaml": source.find(b"eval_every") + 3}.get(ext, len(source) // 2 + 7)  # inside a key
        path.write_bytes(source[:cut])
    elif kind == "text":
        path.write_text("this is not what you think it is\n" * 3)
    elif kind == "directory":
        path.mkdir(exist_ok=True)
    return path


def _unwritable(root: Path, kind: str) -> str:
    return str(root / "blocker" / "out") if kind == "file-in-the-way" else "/proc/musicgate-no-such/out"


# -- the cases ------------------------------------------------------------------------------------
# (name, argv template, extension of the bad file). {bad} is the bad file; {out} the output folder;
# {g} the folder of good inputs.
FILE_CASES = [
    ("info", ["info", "{bad}"], ".mid"),
    ("convert", ["convert", "{bad}", "{out}/x.mid"], ".mid"),
    ("tokenize", ["tokenize", "{bad}", "-o", "{out}/ids.json"], ".mid"),
    ("detokenize", ["detokenize", "{bad}", "-o", "{out}/x.mid"], ".json"),
    ("render", ["render", "{bad}", "-o", "{out}/x.wav"], ".mid"),
    ("analyze", ["analyze", "{bad}", "-o", "{out}", "--no-plot"], ".mid"),
    ("evaluate", ["evaluate", "{bad}", "--no-reference", "--no-plot", "-o", "{out}/ev"], ".mid"),
    ("generate-primer", ["generate", "--model", "{g}/lm.pt", "--primer", "{bad}", "--length", "8", "-o", "{out}"], ".mid"),
    ("generate-model", ["generate", "--model", "{bad}", "--length", "8", "-o", "{out}"], ".pt"),
    ("gates-melody", ["gates", "--model", "{g}/lm.pt", "--melody", "{bad}", "-o", "{out}"], ".mid"),
    ("gates-model", ["gates", "--model", "{bad}", "--melody", "{g}/tune.mid", "-o", "{out}"], ".pt"),
    ("gallery-model", ["gallery", "--model", "{bad}", "--num", "1", "--length", "8", "-o", "{out}"], ".pt"),
    ("demo-model", ["demo", "--model", "{bad}", "--no-retention", "-o", "{out}"], ".pt"),
    ("train-config", ["train", "{bad}", "--run-dir", "{out}/run"], ".yaml"),
    ("train-resume", ["train", "--resume", "{bad}"], ""),
    ("export-run", ["export", "{bad}", "m", "-o", "{out}"], ""),
    ("data-info", ["data", "info", "{bad}", "--root", "{out}"], ""),
    ("data-prepare", ["data", "prepare", "midi:{bad}", "--root", "{out}", "--workers", "1"], ""),
    ("retention-config", ["experiment", "retention", "--config", "{bad}", "--set", "output={out}"], ".yaml"),
    ("bench-poly-config", ["bench", "polyphonic", "--dataset", "jsb", "--cell", "rnn", "--config", "{bad}",
                           "--data-dir", "{g}", "-o", "{out}/r.json"], ".yaml"),
    ("speech-train-data", ["speech", "train", "--data", "{bad}", "--epochs", "1", "-o", "{out}/s"], ".npz"),
    ("speech-eval-run", ["speech", "eval", "{bad}", "--png", "{out}/c.png"], ".pt"),
    ("speech-predict-run", ["speech", "predict", "{bad}", "{g}/clip.wav"], ".pt"),
    ("speech-predict-wav", ["speech", "predict", "{g}/speechrun", "{bad}"], ".wav"),
    ("speech-gates-run", ["speech", "gates", "{bad}", "{g}/clip.wav", "-o", "{out}"], ".pt"),
    ("speech-gates-wav", ["speech", "gates", "{g}/speechrun", "{bad}", "-o", "{out}"], ".wav"),
]

# {ro} is an unwritable output folder.
OUTPUT_CASES = [
    ("tokenize", ["tokenize", "{g}/tune.mid", "-o", "{ro}/ids.json"]),
    ("detokenize", ["detokenize", "{g}/ids.json", "-o", "{ro}/x.mid"]),
    ("convert-mid", ["convert", "{g}/tune.mid", "{ro}/x.mid"]),
    ("convert-xml", ["convert", "{g}/tune.mid", "{ro}/x.musicxml"]),
    ("render", ["render", "{g}/tune.mid", "-o", "{ro}/x.wav"]),
    ("analyze", ["analyze", "{g}/tune.mid", "-o", "{ro}", "--no-plot"]),
    ("evaluate", ["evaluate", "{g}/tune.mid", "--no-reference", "--no-plot", "-o", "{ro}"]),
    ("generate", ["generate", "--model", "{g}/lm.pt", "--length", "8", "-o", "{ro}"]),
    ("gates", ["gates", "--model", "{g}/lm.pt", "--melody", "{g}/tune.mid", "-o", "{ro}"]),
    ("gallery", ["gallery", "--model", "{g}/lm.pt", "--num", "1", "--length", "8", "-o", "{ro}"]),
    ("demo", ["demo", "--model", "{g}/lm.pt", "--no-retention", "-o", "{ro}"]),
    ("train", ["train", "{g}/tiny.yaml", "--run-dir", "{ro}"]),
    ("export", ["export", "{g}/run", "m", "-o", "{ro}"]),
    ("data-prepare", ["data", "prepare", "midi:{g}/midis", "--root", "{ro}", "--workers", "1"]),
    ("retention", ["experiment", "retention", "--set", "models={{x: {g}/lm.pt}}", "--set", "n_per_key=1",
                   "--set", "length=16", "--set", "dataset=null", "--set", "n_boot=10", "--set", "output={ro}"]),
    ("probe", ["experiment", "probe", "--T", "1", "--cells", "rnn", "--steps", "1", "--hidden", "2", "-o", "{ro}"]),
    ("bench-memory", ["bench", "memory", "--task", "adding", "--T", "2", "--cell", "rnn", "--steps", "1",
                      "-o", "{ro}/m.json"]),
    ("bench-memory-plot", ["bench", "memory", "--task", "adding", "--T", "2", "--cell", "rnn", "--steps", "1",
                           "--plot", "{ro}/m.png"]),
    ("speech-train", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--epochs", "1", "--hidden", "4",
                      "-o", "{ro}"]),
    ("speech-eval", ["speech", "eval", "{g}/speechrun", "--png", "{ro}/c.png"]),
    ("speech-gates", ["speech", "gates", "{g}/speechrun", "{g}/clip.wav", "-o", "{ro}"]),
]

# Absurd numbers, names that are paths, and values that used to be silently wrong.
VALUE_CASES = [
    ("generate-seed-overflow", ["generate", "--model", "{g}/lm.pt", "--seed", str(2 ** 70), "-o", "{out}"]),
    ("generate-device-foo", ["generate", "--model", "{g}/lm.pt", "--device", "foo", "-o", "{out}"]),
    ("generate-device-cuda", ["generate", "--model", "{g}/lm.pt", "--device", "cuda:7", "-o", "{out}"]),
    ("generate-length-0", ["generate", "--model", "{g}/lm.pt", "--length", "0", "-o", "{out}"]),
    ("generate-num-0", ["generate", "--model", "{g}/lm.pt", "--num", "0", "-o", "{out}"]),
    ("generate-temperature-0", ["generate", "--model", "{g}/lm.pt", "--temperature", "0", "-o", "{out}"]),
    ("generate-top-p", ["generate", "--model", "{g}/lm.pt", "--top-p", "1.5", "-o", "{out}"]),
    ("generate-top-k", ["generate", "--model", "{g}/lm.pt", "--top-k", "0", "-o", "{out}"]),
    ("generate-key", ["generate", "--model", "{g}/lm.pt", "--key", "Zz", "-o", "{out}"]),
    ("analyze-window-0", ["analyze", "{g}/tune.mid", "--window", "0", "-o", "{out}"]),
    ("analyze-window-neg", ["analyze", "{g}/tune.mid", "--window", "-1", "-o", "{out}"]),
    ("analyze-stride-0", ["analyze", "{g}/tune.mid", "--stride", "0", "-o", "{out}"]),
    ("evaluate-window-0", ["evaluate", "{g}/tune.mid", "--no-reference", "--window", "0", "-o", "{out}/ev"]),
    ("evaluate-seed-overflow", ["evaluate", "{g}/tune.mid", "--no-reference", "--seed", str(2 ** 70),
                                "-o", "{out}/ev"]),
    ("gates-layer", ["gates", "--model", "{g}/lm.pt", "--melody", "{g}/tune.mid", "--layer", "5", "-o", "{out}"]),
    ("speech-gates-layer", ["speech", "gates", "{g}/speechrun", "{g}/clip.wav", "--layer", "3", "-o", "{out}"]),
    ("detokenize-ids", ["detokenize", "{g}/badids.json", "-o", "{out}/x.mid"]),
    ("tokenize-grid-0", ["tokenize", "{g}/tune.mid", "--grid", "0", "-o", "{out}/ids.json"]),
    ("render-rate-0", ["render", "{g}/tune.mid", "--sample-rate", "0", "-o", "{out}/x.wav"]),
    ("train-hidden-0", ["train", "{g}/tiny.yaml", "--set", "model.hidden=0", "--run-dir", "{out}/run"]),
    ("train-device-foo", ["train", "{g}/tiny.yaml", "--device", "foo", "--run-dir", "{out}/run"]),
    ("train-stop-after-0", ["train", "{g}/tiny.yaml", "--stop-after", "0", "--run-dir", "{out}/run"]),
    ("data-prepare-limit-neg", ["data", "prepare", "midi:{g}/midis", "--limit", "-1", "--root", "{out}"]),
    ("data-prepare-workers-0", ["data", "prepare", "midi:{g}/midis", "--workers", "0", "--root", "{out}"]),
    ("demo-key", ["demo", "--model", "{g}/lm.pt", "--key", "Zz", "-o", "{out}"]),
    ("gallery-num-0", ["gallery", "--model", "{g}/lm.pt", "--num", "0", "-o", "{out}"]),
    ("gallery-seed-overflow", ["gallery", "--model", "{g}/lm.pt", "--seed", str(2 ** 70), "-o", "{out}"]),
    ("speech-train-epochs-0", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--epochs", "0", "-o", "{out}/s"]),
    ("speech-train-lr-neg", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--lr", "-1", "-o", "{out}/s"]),
    ("speech-train-batch-0", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--batch-size", "0", "-o", "{out}/s"]),
    ("speech-train-hidden-0", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--hidden", "0", "-o", "{out}/s"]),
    ("speech-train-device", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--device", "foo", "-o", "{out}/s"]),
    ("speech-train-into-music-run", ["speech", "train", "--data", "fsdd:{root}/fsdd", "--epochs", "1",
                                     "-o", "{out}/musicrun"]),
    ("export-name-up", ["export", "{g}/run", "../../evil", "-o", "{out}/models"]),
    ("export-name-slash", ["export", "{g}/run", "a/b", "-o", "{out}/models"]),
    ("export-name-dot", ["export", "{g}/run", "..", "-o", "{out}/models"]),
    ("probe-steps-0", ["experiment", "probe", "--T", "1", "--cells", "rnn", "--steps", "0", "-o", "{out}"]),
    ("retention-threads-0", ["experiment", "retention", "--threads", "0", "--set", "output={out}"]),
]


def _subcommands() -> set[str]:
    """Every leaf subcommand of the parser, e.g. 'speech train'."""
    import argparse

    found = set()

    def walk(parser, prefix):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.add(" ".join(prefix))
        for action in subs:
            for name, child in action.choices.items():
                walk(child, prefix + [name])

    walk(build_parser(), [])
    return found


def _covered() -> set[str]:
    leaves = _subcommands()
    covered = set()
    for argv in [c[1] for c in FILE_CASES] + [c[1] for c in OUTPUT_CASES] + [c[1] for c in VALUE_CASES]:
        for n in (2, 1):
            if " ".join(argv[:n]) in leaves:
                covered.add(" ".join(argv[:n]))
                break
    return covered


def test_the_matrix_covers_every_subcommand():
    missing = _subcommands() - _covered()
    assert not missing, f"no bad-input case for {sorted(missing)}"


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1)
            for p in folder.rglob("*")}


def _run(world: Path, argv: list[str], tmp_path: Path, monkeypatch, capsys, bad: Path | None = None):
    cwd = tmp_path / "cwd"
    out = tmp_path / "out"
    cwd.mkdir()
    out.mkdir()
    if argv[-1] == "{out}/musicrun" or "{out}/musicrun" in argv:
        (out / "musicrun").mkdir()
        (out / "musicrun" / "config.yaml").write_text((world / "good" / "tiny.yaml").read_text())
        (out / "musicrun" / "metrics.csv").write_text("step,loss\n")
    (world / "good" / "badids.json").write_text(json.dumps(
        {"tokenizer": json.loads((world / "good" / "ids.json").read_text())["tokenizer"], "ids": [99999, -1, "x"]}))
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("MUSICGATE_CACHE", str(tmp_path / "cache"))
    values = {"bad": str(bad) if bad else "", "out": str(out), "g": str(world / "good"), "root": str(world)}
    args = [a.format(**values) for a in argv]
    before_world, before_out = _snapshot(world), _snapshot(out)
    capsys.readouterr()
    import torch

    threads = torch.get_num_threads()
    try:
        try:
            rc = main(args)
        except SystemExit as exc:  # argparse
            rc = exc.code
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert rc == 2, f"exit code {rc}; stderr: {err}"
    assert 1 <= len(lines) <= 2, f"{len(lines)} lines on stderr:\n{err}"
    assert _snapshot(world) == before_world, "wrote outside the output folder"
    assert not any(cwd.iterdir()), f"wrote into the working folder: {sorted(os.listdir(cwd))}"
    assert not (tmp_path.parent / "evil.pt").exists() and not (tmp_path / "evil.pt").exists()
    new = {k: v for k, v in _snapshot(out).items() if k not in before_out and v >= 0}
    assert not new, f"left files in the output folder: {sorted(new)}"
    return err


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("case", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_file(case, kind, world, tmp_path, monkeypatch, capsys):
    name, argv, ext = case
    bad = _bad_file(world, kind, ext)
    if kind == "missing" and bad.exists():
        bad.unlink()
    err = _run(world, argv, tmp_path, monkeypatch, capsys, bad=bad)
    assert bad.name in err, f"the message does not name {bad.name}: {err}"
    if kind == "directory":
        assert "no such" not in err.lower(), f"a folder is not a missing file: {err}"


@pytest.mark.parametrize("kind", UNWRITABLE)
@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_unwritable_output(case, kind, world, tmp_path, monkeypatch, capsys):
    name, argv = case
    ro = _unwritable(world, kind)
    argv = [a.replace("{ro}", ro) for a in argv]
    _run(world, argv, tmp_path, monkeypatch, capsys)
    assert (world / "blocker").is_file()


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_bad_value(case, world, tmp_path, monkeypatch, capsys):
    name, argv = case
    if name == "generate-device-cuda":
        import torch

        if torch.cuda.is_available() and torch.cuda.device_count() > 7:
            pytest.skip("this machine has a cuda:7")
    _run(world, argv, tmp_path, monkeypatch, capsys)


# -- memory bounded on crafted input -----------------------------------------------------------------
MEMORY_LIMIT = 1536 * 2**20  # address space: the commands need well under this; 2**28 ticks asked 92 GiB


def _limited() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("argv, refused", [
    (["render", "big.mid", "-o", "big.wav"], True),
    (["convert", "big.mid", "big.musicxml"], True),
    (["analyze", "big.mid", "--unit", "beats", "--no-plot", "-o", "an"], True),
    (["analyze", "big.mid", "-o", "an"], False),
    (["tokenize", "big.mid", "-o", "ids.json"], False),
], ids=["render", "convert-musicxml", "analyze-beats", "analyze", "tokenize"])
def test_far_apart_notes_cost_neither_memory_nor_minutes(argv, refused, tmp_path):
    """Two notes, the second at tick 2**28 - 1 (beat 559,240): work is bounded by the notes, and a
    span no renderer should try is refused with one line, under a 1.5 GiB address-space limit."""
    import subprocess
    import sys

    (tmp_path / "big.mid").write_bytes(smf([(0, on(60)), (480, off(60)), (2**28 - 1 - 480, on(62)), (480, off(62))]))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "musicgate", "-q", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=_limited)
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-2000:]
    if refused:
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "big." in proc.stderr and "trim the file" in proc.stderr
        assert not [p for p in tmp_path.rglob("*") if p.name != "big.mid" and p.is_file()]
    else:
        assert proc.returncode == 0, proc.stderr
