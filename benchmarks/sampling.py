"""Which sampling settings make the shipped models' tunes read most like real ones?

    python benchmarks/sampling.py [--models folk-lstm folk-gru] [--temperatures 1 1.05 1.1]
        [--min-p 0.05 0.02] [--max-run 4 5 6] [--num 16] [--seeds 4 5 6] [--jobs 2]
        [-o benchmarks/results/sampling]

Every combination of temperature, min-p and most notes of one pitch in a row is sampled from each
model: the musicality script's six keys, ``--num`` tunes per key and seed, each key its own seed
(:func:`common.key_seed`). The default seeds 4-6 are not the report's 1-3 (``scripts/musicality.sh``
draws keys with seeds 6-23, these with 24-41), so a setting chosen here is then measured on tunes it
was not chosen on. ``musicgate evaluate`` reads every set beside 200 held-out real tunes; the summary
``sampling.md`` gives, per model and setting, the measures a listener hears first (tunes marking
time, the longest run of one pitch) and those the settings trade them against (notes inside the
signature, repeated chunks, endings on the tonic, tonic and mode), and how many of the report's
measures have an interval that overlaps the real tunes' interval. Tunes go to
``generated/sampling/MODEL-tT-pP-rR/`` (replaced; not committed); ``evaluate.json`` keeps each set's
means and intervals, not its tunes one by one. About 6 minutes on two threads
for the default grid (18 settings, 2 models, 288 tunes each).
"""
from __future__ import annotations

import argparse
import itertools
import json
import shlex
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MUSICALITY_KEYS, key_seed, table  # noqa: E402

SHOWN = {"one_pitch_bars": "bars on one pitch", "longest_run": "longest run", "in_signature": "in signature",
         "repeated_chunks": "chunks heard before", "ends_on_tonic": "ends on tonic", "key_exact": "tonic and mode",
         "key_signature": "signature"}
"""The columns of the summary (short names of evaluate's measures), besides the count of measures that
read as real tunes do."""


def _name(model: str, t: float, p: float, r: int) -> str:
    return f"{model}-t{t:g}-p{p:g}-r{r}"


def sample_set(model: str, t: float, p: float, r: int, num: int, seeds: list[int], gen: str) -> str:
    """Sample one set (every key and seed) into its own folder; returns the folder."""
    import torch

    from musicgate.generation.api import generate_run, load_model, write_outputs

    torch.set_num_threads(1)
    folder = Path(gen) / _name(model, t, p, r)
    shutil.rmtree(folder, ignore_errors=True)  # a set is one run's tunes, never a mix
    loaded = load_model(model)
    for seed in seeds:
        for place, key in enumerate(MUSICALITY_KEYS):
            g = generate_run(loaded, key=key, num=num, seed=key_seed(seed, place), temperature=t,
                             min_p=p or None, max_run=r or None)
            write_outputs(g.notes, folder, model_name=g.model_name, key=g.key, seed=g.seed, settings=g.settings)
    print(f"{folder.name}: {num * len(seeds) * len(MUSICALITY_KEYS)} tunes", file=sys.stderr, flush=True)
    return str(folder)


def summary(report: dict, command: str) -> str:
    """Markdown: per set of an evaluate report, the shown measures and the count of measures whose
    interval overlaps the real tunes'."""
    metrics = report["metrics"]
    ref = report["reference"]["summary"]

    def cell(s: dict, name: str) -> str:
        v = s[name]["mean"]
        return f"{v:.3f}" if name == "in_signature" else f"{v:.2f}"

    def overlaps(s: dict) -> int:
        names = [m["name"] for m in metrics if m["name"] in s and m["name"] in ref]
        return sum(1 for n in names if s[n]["mean"] == s[n]["mean"]     # NaN: no such measure for the set
                   and s[n]["lo"] <= ref[n]["hi"] and ref[n]["lo"] <= s[n]["hi"])

    rows = [["real tunes", report["reference"]["tunes"], *(cell(ref, n) for n in SHOWN), "-"]]
    for s in report["sets"]:
        rows.append([s["name"], s["tunes"], *(cell(s["summary"], n) for n in SHOWN),
                     f"{overlaps(s['summary'])} of {len(metrics)}"])
    return (f"Sampling settings (`{command}`): set = model-tTEMPERATURE-pMIN_P-rMAX_RUN (p0: no min-p, r0: no "
            "limit on a run of one pitch). Bars on one pitch: of bars with 2+ notes; longest run: of one pitch, notes; "
            "tonic and mode, signature: the whole-piece key against the asked one. Means over the set; the last "
            "column counts the report's measures "
            "whose 95% interval overlaps the real tunes' (full report: evaluate.md).\n\n"
            + table(["set", "tunes", *SHOWN.values(), "measures that read as real"], rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["folk-lstm", "folk-gru"])
    ap.add_argument("--temperatures", nargs="+", type=float, default=[1.0, 1.05, 1.1])
    ap.add_argument("--min-p", nargs="+", type=float, default=[0.05, 0.02], help="0: sample every token")
    ap.add_argument("--max-run", nargs="+", type=int, default=[4, 5, 6], help="0: no limit")
    ap.add_argument("--num", type=int, default=16, help="tunes per key, model and seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[4, 5, 6])
    ap.add_argument("--jobs", type=int, default=2, help="sets sampled at once, one thread each")
    ap.add_argument("--gen", default="generated/sampling", help="where the tunes go")
    ap.add_argument("-o", "--out", default="benchmarks/results/sampling")
    args = ap.parse_args(argv)
    if any(t <= 0 for t in args.temperatures) or any(not 0 <= p < 1 for p in args.min_p) \
            or any(r < 0 for r in args.max_run) or args.num < 1 or args.jobs < 1:
        ap.error("temperatures > 0, min-p in [0, 1), max-run >= 0, --num and --jobs >= 1")
    from musicgate.experiments.evaluate import evaluate, write_report
    from musicgate.files import atomic_write_json, atomic_write_text

    grid = [(m, t, p, r) for m in args.models
            for t, p, r in itertools.product(args.temperatures, args.min_p, args.max_run)]
    with ProcessPoolExecutor(args.jobs) as pool:
        sets = list(pool.map(sample_set, *zip(*grid), *([x] * len(grid) for x in (args.num, args.seeds, args.gen))))
    ev = evaluate(sets, reference="folk")
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    command = f"python benchmarks/sampling.py {given}".strip()
    written = write_report(ev, args.out, command=command, plot=False)
    report = json.loads(Path(written["json"]).read_text())
    for s in report["sets"]:   # 36 sets' tunes one by one would be 7 MB; the means and intervals stay
        s.pop("per_tune", None)
    atomic_write_json(written["json"], report)
    text = summary(report, command)
    atomic_write_text(Path(args.out) / "sampling.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
