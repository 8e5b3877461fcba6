"""Where the shipped models' tunes sit: their register as written and as ``generate`` places it.

    python benchmarks/register.py [--num 8] [--seed 1] [-o benchmarks/results/register.md]

The shipped models read and write pitch relative to the tonic, so they do not know a tune's
absolute register (:mod:`musicgate.nn.tonic`); ``generate`` moves each tune by whole octaves so its
median pitch is nearest the training tunes' (:func:`musicgate.generation.api.octave_shift`). This
samples the README's musicality sets (``--num`` tunes per key in the six keys of
``scripts/musicality.sh``, each key its own seed, default settings) with ``keep_octave`` on and off,
same seeds, and reads
each tune's register (its median pitch) against the real tunes of the test split: the share of tunes
outside the band that holds the middle 90% of the training tunes' registers, and the mean distance
from their median, in all and per key.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MUSICALITY_KEYS as KEYS, emit_table, key_seed, table  # noqa: E402

MODELS = ("folk-rnn", "folk-lstm", "folk-gru")


def _row(name: str, medians: np.ndarray, band: dict, by_key: dict[str, np.ndarray]) -> list:
    outside = lambda m: float(np.mean((m < band["lo"]) | (m > band["hi"])))  # noqa: E731
    keys = [f"{np.mean(by_key[k]):.1f}" for k in KEYS]
    return [name, f"{len(medians):,}", f"{outside(medians):.2f}", f"{np.mean(np.abs(medians - band['median'])):.1f}",
            *keys]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=8, help="tunes per key and model (default 8, as the README's set)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    from musicgate.experiments.retention_run import real_tunes
    from musicgate.generation.api import generate_run, load_model

    band = load_model(MODELS[0])[2]["dataset"]["register"]
    notes, keys, _ = real_tunes("datasets/folk", "test")
    real = [(float(np.median(n.pitch)), k.name) for n, k in zip(notes, keys) if len(n)]
    rows = [_row("real tunes (test split)", np.array([m for m, _ in real]), band,
                 {k: np.array([m for m, kk in real if kk == k] or [np.nan]) for k in KEYS})]
    for model in MODELS:
        loaded = load_model(model)
        for keep in (True, False):
            by_key = {}
            for place, key in enumerate(KEYS):   # each key its own seed, as scripts/musicality.sh
                run = generate_run(loaded, key=key, num=args.num, seed=key_seed(args.seed, place), keep_octave=keep)
                by_key[key] = np.array([np.median(n.pitch) for n in run.notes])
            rows.append(_row(f"{model}, {'as written' if keep else 'placed'}", np.concatenate(list(by_key.values())),
                             band, by_key))
    text = (f"Register (each tune's median pitch, MIDI; 69 = A4) of the shipped models' tunes, {args.num} per key "
            f"in six keys, seed {args.seed} (key number k drawn with generate's seed 6 x {args.seed} + k), "
            f"default settings: as the model wrote them (`keep_octave`) and as "
            f"`generate` places them, beside the real tunes of the test split. The band is the middle 90% of "
            f"the training tunes' registers ({band['lo']:g}-{band['hi']:g}, median {band['median']:g}) "
            "(`python benchmarks/register.py`).\n\n"
            + table(["tunes", "n", "outside the band", "mean distance from the median, semitones",
                     *[f"{k}, mean" for k in KEYS]], rows))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
