"""Would a stronger copy head at sampling give the shipped models a real tune's repetition?

    python benchmarks/copy_weight.py [--models folk-lstm folk-gru] [--weights 1 1.25 1.5]
        [--from-run 0 8] [--num 16] [--seeds 1 2 3] [-o benchmarks/results/copy-weight]

The copy head (:mod:`musicgate.nn.lookback`) adds a learned bias to the logit of the token the
tune played k bars earlier at the same point of the bar. ``benchmarks/copying.py`` finds the shipped
heads under-confident in long copies (after 8-15 tokens copied from 4 bars back real tunes copy the
next pitch 0.93 of the time; the LSTM puts 0.77 on it, the GRU 0.80). This what-if multiplies the
head's bias by a weight while sampling, everywhere (``--from-run 0``) or only where the tune has
already copied at least that many tokens in a row from that distance (``--from-run 8``: finish a
repeat more surely, start none more often). Weight 1 is the model as trained; none of this is an
option of ``generate``. The tunes are measured with ``musicgate evaluate`` beside 200 held-out real
tunes: the musicality script's six keys and default sampling settings, ``--num`` tunes per key,
model and seed (the 96-tune recipe of the README's phase comparisons, three times: on 96 tunes the
rates move by a tenth from one seed to the next; seed 2's weight-1 tunes are
``benchmarks/results/tonic-copy``'s). Tunes go to ``generated/copy-weight/MODEL-wW[-runR]/``
(replaced; not committed), the report to ``-o`` with ``loops.md``: how often a tune gets stuck
playing one passage again and again, which the shares of repeated chunks and segments count as
repetition. About five minutes on one thread.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from musicgate.experiments.evaluate import evaluate, write_report
from musicgate.files import atomic_write_text
from musicgate.generation.api import generate_run, write_outputs
from musicgate.nn.lookback import Lookback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MUSICALITY_KEYS as KEYS, key_seed, patched  # noqa: E402
from loops import loops_table  # noqa: E402


def copy_weight(weight: float, *, from_run: int = 0):
    """Within the block, every copy head's bias is multiplied by ``weight`` where the tune has copied
    at least ``from_run`` tokens in a row from that distance (0: everywhere)."""
    def wrap(original):
        def scaled(self, h, runs):
            b = original(self, h, runs)
            return torch.where(runs >= from_run, weight * b, b)
        return scaled

    return patched(Lookback, "copy_biases", wrap)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["folk-lstm", "folk-gru"])
    ap.add_argument("--weights", nargs="+", type=float, default=[1.0, 1.25, 1.5])
    ap.add_argument("--from-run", type=int, nargs="+", default=[0, 8],
                    help="scale only where this many tokens in a row were copied from that distance (0: everywhere)")
    ap.add_argument("--num", type=int, default=16, help="tunes per key, model and seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--gen", default="generated/copy-weight", help="where the tunes go")
    ap.add_argument("-o", "--out", default="benchmarks/results/copy-weight")
    args = ap.parse_args(argv)
    if any(w < 0 for w in args.weights):
        ap.error("weights must be >= 0 (1 is the model as trained)")
    if any(r < 0 for r in args.from_run):
        ap.error("--from-run counts tokens copied in a row: give whole numbers >= 0")
    torch.set_num_threads(1)
    sets = []
    for model in args.models:
        settings = [(0, 1.0)] if 1.0 in args.weights else []     # the model as trained, once
        settings += [(r, w) for r in args.from_run for w in args.weights if w != 1.0]
        for run, w in settings:
            folder = Path(args.gen) / (f"{model}-w{w:g}" + (f"-run{run}" if run else ""))
            shutil.rmtree(folder, ignore_errors=True)  # a set is one run's tunes, never a mix
            with copy_weight(w, from_run=run):
                for seed in args.seeds:
                    for place, key in enumerate(KEYS):   # each key its own seed, as scripts/musicality.sh
                        g = generate_run(model, key=key, num=args.num, seed=key_seed(seed, place))
                        write_outputs(g.notes, folder, model_name=g.model_name, key=g.key, seed=g.seed,
                                      settings={**g.settings, "copy_weight": w, "copy_weight_from_run": run})
            sets.append(str(folder))
            print(f"{model} at copy weight {w:g} from a run of {run}: {len(args.seeds) * len(KEYS) * args.num} tunes "
                  f"in {folder}", file=sys.stderr)
    ev = evaluate(sets, reference="folk")
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    command = f"python benchmarks/copy_weight.py {given}".strip()
    written = write_report(ev, args.out, command=command)
    report = json.loads(Path(written["json"]).read_text())
    written["loops"] = atomic_write_text(Path(args.out) / "loops.md", loops_table(report, command))
    print(f"wrote {', '.join(p.name for p in written.values())} in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
