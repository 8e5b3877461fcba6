"""Spoken-digit accuracy of RNN vs GRU vs LSTM (1 layer, 64 units), through the CLI.

    nice -n 10 .venv/bin/python benchmarks/speech_accuracy.py [--data npz synth] [--epochs 30]
        [--runs runs/speech] [--reuse]

Each cell is trained with ``musicgate speech train`` on
- ``npz``: ../shared/speech/digits.npz (FSDD, 13 MFCC), stratified seeded 50/50 split;
- ``synth``: synth-digits (eSpeak NG, 21 of 103 voices held out for test).
Prints a markdown table with the command of every row. ``--reuse`` reads a run folder's
metrics.json instead of training when the run's config.json matches the command.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
from pathlib import Path

from musicgate.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
DATA = {"npz": str(ROOT.parent / "shared" / "speech" / "digits.npz"), "synth": "synth-digits"}
CELLS = ("rnn", "gru", "lstm")


def run_one(key: str, cell: str, *, epochs: int, hidden: int, seed: int, runs: Path,
            reuse: bool) -> tuple[dict, str]:
    out = runs / f"{key}-{cell}"
    argv = ["-q", "speech", "train", "--data", DATA[key], "--cell", cell, "--hidden", str(hidden),
            "--epochs", str(epochs), "--seed", str(seed), "-o", str(out)]
    command = "musicgate " + " ".join(shlex.quote(a) for a in argv)
    config = out / "config.json"
    same = config.exists() and json.loads(config.read_text()).get("cell") == cell and \
        json.loads(config.read_text()).get("epochs") == epochs and \
        json.loads(config.read_text()).get("seed") == seed
    if not (reuse and same and (out / "metrics.json").exists()):
        with contextlib.redirect_stdout(sys.stderr):  # the run's report goes to stderr, the table to stdout
            rc = cli(argv)
        if rc != 0:
            raise SystemExit(f"failed: {command}")
    return json.loads((out / "metrics.json").read_text()), command


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", choices=sorted(DATA), default=["npz", "synth"])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "speech")
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    rows = []
    for key in args.data:
        for cell in CELLS:
            m, command = run_one(key, cell, epochs=args.epochs, hidden=args.hidden, seed=args.seed,
                                 runs=args.runs, reuse=args.reuse)
            rows.append((key, cell, m, command))
    print("| data | cell | test accuracy | train / test clips | parameters | train time (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for key, cell, m, _ in rows:
        print(f"| {key} | {cell} | {100 * m['test_accuracy']:.1f}% | {m['train_clips']} / {m['test_clips']} "
              f"| {m.get('parameters', '-')} | {m.get('train_seconds', '-')} |")
    print("\nCommands:\n")
    for *_, command in rows:
        print(f"    {command}")


if __name__ == "__main__":
    main()
