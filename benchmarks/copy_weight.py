"""Would a stronger copy head at sampling give the shipped models a real tune's repetition?

    python benchmarks/copy_weight.py [--models folk-lstm folk-gru] [--weights 1 1.25 1.5]
        [--num 16] [--seed 2] [-o benchmarks/results/copy-weight]

The copy head (:mod:`musicgate.nn.lookback`) adds a learned bias to the logit of the token the
tune played k bars earlier at the same point of the bar. ``benchmarks/copying.py`` found it
under-confident in long copied runs (real tunes copy the next pitch 0.93 of the time after 8-15
tokens copied from 4 bars back; the shipped models give it 0.75). This what-if multiplies the
head's bias by a weight while sampling (1 is the model as trained; it is not an option of
``generate``) and measures the tunes with ``musicgate evaluate`` beside 200 held-out real tunes:
the musicality script's six keys and default sampling settings, ``--num`` tunes per key and model
(16 and seed 2 by default: the 96-tune recipe of the README's phase comparisons, so weight 1 is
``benchmarks/results/tonic-copy``'s set). Tunes go to ``generated/copy-weight/MODEL-wW/`` (replaced;
not committed), the report to ``-o``. About a minute on one thread.
"""
from __future__ import annotations

import argparse
import contextlib
import shlex
import shutil
import sys
from pathlib import Path

import torch

from musicgate.experiments.evaluate import evaluate, write_report
from musicgate.generation.api import generate_run, write_outputs
from musicgate.nn.lookback import Lookback

KEYS = ("D major", "G major", "A minor", "E minor", "A dorian", "D mixolydian")
"""The keys of ``scripts/musicality.sh``."""


@contextlib.contextmanager
def copy_weight(weight: float):
    """Within the block, every copy head's bias is multiplied by ``weight``."""
    original = Lookback.copy_bias

    def scaled(self, *args):
        return weight * original(self, *args)

    Lookback.copy_bias = scaled
    try:
        yield
    finally:
        Lookback.copy_bias = original


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["folk-lstm", "folk-gru"])
    ap.add_argument("--weights", nargs="+", type=float, default=[1.0, 1.25, 1.5])
    ap.add_argument("--num", type=int, default=16, help="tunes per key and model")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--gen", default="generated/copy-weight", help="where the tunes go")
    ap.add_argument("-o", "--out", default="benchmarks/results/copy-weight")
    args = ap.parse_args(argv)
    if any(w < 0 for w in args.weights):
        ap.error("weights must be >= 0 (1 is the model as trained)")
    torch.set_num_threads(1)
    sets = []
    for model in args.models:
        for w in args.weights:
            folder = Path(args.gen) / f"{model}-w{w:g}"
            shutil.rmtree(folder, ignore_errors=True)  # a set is one run's tunes, never a mix
            with copy_weight(w):
                for key in KEYS:
                    g = generate_run(model, key=key, num=args.num, seed=args.seed)
                    write_outputs(g.notes, folder, model_name=g.model_name, key=g.key, seed=g.seed,
                                  settings={**g.settings, "copy_weight": w})
            sets.append(str(folder))
            print(f"{model} at copy weight {w:g}: {len(KEYS) * args.num} tunes in {folder}", file=sys.stderr)
    ev = evaluate(sets, reference="folk")
    command = "python benchmarks/copy_weight.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    written = write_report(ev, args.out, command=command.strip())
    print(f"wrote {', '.join(p.name for p in written.values())} in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
