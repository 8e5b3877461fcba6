"""Speed of ``musicgate evaluate``: 48 generated tunes beside 200 real tunes.

    nice -n 10 .venv/bin/python benchmarks/evaluate.py [--reference folk] [--root datasets] [--repeat 3]

The generated side is 48 random walks of 128 notes in six keys (8 per key), written as MIDI with the
JSON record ``musicgate generate`` writes; the reference is the test split of the prepared folk
corpus (``musicgate data prepare folk`` first), 200 tunes drawn. Times :func:`evaluate` (reading the
files, decoding the reference, every metric, the bootstrap intervals) and, apart, the report
writing with the PNG. Target: under 3 s for the evaluation on one core.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import best_time, machine, table  # noqa: E402
from musicgate.experiments.evaluate import evaluate, write_report  # noqa: E402
from musicgate.generation.api import write_outputs  # noqa: E402
from musicgate.music.keys import parse_key  # noqa: E402
from musicgate.music.notes import Notes  # noqa: E402

KEYS = ("D major", "G major", "A minor", "E minor", "A dorian", "D mixolydian")


def random_tunes(folder: Path, per_key: int = 8, length: int = 128, seed: int = 0) -> None:
    """``per_key`` random-walk tunes in each of :data:`KEYS`, as ``generate`` writes them."""
    rng = np.random.default_rng(seed)
    for key in KEYS:
        tonic = 60 + parse_key(key).tonic
        tunes = []
        for _ in range(per_key):
            pitch = np.clip(tonic + np.cumsum(rng.integers(-4, 5, length)), 48, 90)
            dur = rng.choice([0.5, 0.5, 0.5, 1.0, 1.5], length)
            tunes.append(Notes.from_arrays(pitch, np.cumsum(dur) - dur, dur, key=key, meter=(6, 8)))
        write_outputs(tunes, folder, model_name="random", key=key, seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", default="folk")
    ap.add_argument("--root", default="datasets")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gen = Path(tmp) / "random"
        random_tunes(gen)
        run = lambda: evaluate([gen], reference=args.reference, root=args.root)  # noqa: E731
        ev = run()
        secs = best_time(run, args.repeat)
        write_secs = best_time(lambda: write_report(ev, Path(tmp) / "report"), args.repeat)
    print(machine())
    print(table(["step", "tunes", "seconds (best of %d)" % args.repeat],
                [["evaluate (read, decode, measure, bootstrap)", f"{len(ev.sets[0].pieces)} + "
                  f"{len(ev.reference.pieces) if ev.reference else 0}", secs],
                 ["write_report (md, json, png)", "", write_secs]]))


if __name__ == "__main__":
    main()
