"""What if the meter grammar let a tune end where real tunes end? A what-if on the shipped models, not an option of ``generate``.

    python benchmarks/free_end.py [--models folk-lstm folk-gru] [--num 16] [--seeds 1 2 3] [-o benchmarks/results/free-end]

``generate``'s meter grammar lets a tune end at a bar line, at a full bar, or where its last bar
complements its pickup; ``benchmarks/final_bars.py`` finds that at least 32% of held-out real tunes
end elsewhere (a shortened last bar, as ABC writes it) and that the models, made to fill such a bar,
fill it with the tonic. Within this script the grammar also allows the end after any whole note of
the last bar, once the tune has had a bar line. The musicality sets (the six keys, ``--num`` tunes per
key and seed, each key its own seed, default settings otherwise: the same draws as ``musicality-288``)
go to ``generated/free-end/MODEL/`` (replaced; not committed); ``musicgate evaluate`` reads them beside
200 held-out real tunes (``-o``), and ``static-bars.md`` is ``benchmarks/static_bars.py`` on them.
About 3 minutes on one thread.
"""
from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MUSICALITY_KEYS, key_seed, patched  # noqa: E402


def free_end():
    """Within the block, the melody grammar also allows EOS right after a note's DUR anywhere in a bar,
    once a bar line has come."""
    from musicgate.tokens.grammar import MelodyGrammar

    def wrap(original):
        def allowed(self, state):
            mask = original(self, state)
            if self.meter:
                after_note = np.isin(state.last, self.dur_cols)
                mask[:, self.tok.eos_id] |= state.seen & (state.pos > 0) & after_note
            return mask
        return allowed

    return patched(MelodyGrammar, "allowed", wrap)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["folk-lstm", "folk-gru"])
    ap.add_argument("--num", type=int, default=16, help="tunes per key, model and seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--gen", default="generated/free-end", help="where the tunes go")
    ap.add_argument("-o", "--out", default="benchmarks/results/free-end")
    args = ap.parse_args(argv)
    import torch

    from musicgate.experiments.evaluate import evaluate, write_report
    from musicgate.generation.api import generate_run, load_model, write_outputs

    torch.set_num_threads(1)
    sets = []
    with free_end():
        for name in args.models:
            loaded = load_model(name)
            folder = Path(args.gen) / name.replace("/", "-")
            shutil.rmtree(folder, ignore_errors=True)   # a set is one run's tunes, never a mix
            for seed in args.seeds:
                for place, key in enumerate(MUSICALITY_KEYS):
                    g = generate_run(loaded, key=key, num=args.num, seed=key_seed(seed, place))
                    write_outputs(g.notes, folder, model_name=g.model_name, key=g.key, seed=g.seed,
                                  settings={**g.settings, "free_end": True})
            sets.append(str(folder))
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    command = f"python benchmarks/free_end.py {given}".strip()
    write_report(evaluate(sets, reference="folk"), args.out, command=command)
    import static_bars

    static_bars.main([*sets, "-o", str(Path(args.out) / "static-bars.md")])
    print(f"wrote evaluate.md, evaluate.json, evaluate.png, static-bars.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
