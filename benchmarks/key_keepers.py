"""The key keepers of the class page: how well each shipped model's best units tell the asked key.

    python benchmarks/key_keepers.py [--out DIR] [-o benchmarks/results/key-keepers.md]

Builds the page's gallery as ``musicgate demo`` does (its models, keys, tune length, tunes per key and
seed; no retention run and no speech part, which do not touch these numbers) in a temporary folder
(or ``--out``) and reads ``gallery.json``: per model, the three units whose state best tells the
key (a one-unit read-out, learnt on half the tunes and scored on the other half), their accuracy,
the median unit's and chance.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, table  # noqa: E402


def rows_of(gallery: dict) -> list[list[str]]:
    """One table row per model of a ``gallery.json``: name, units, their accuracy, median unit, chance."""
    rows = []
    for model in gallery["models"]:
        kk = model.get("key_keepers")
        if not kk:
            continue
        rows.append([model["label"], " / ".join(str(u) for u in kk["units"]),
                     " / ".join(f"{a:.0%}" for a in kk["accuracy"]), f"{kk['median_unit']:.0%}",
                     f"{kk['chance']:.0%}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the gallery here (default: a temp folder)")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    from musicgate.teach.demo import run_demo

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        run_demo(out, retention=False, quiet=True)
        gallery = json.loads((out / "gallery.json").read_text())
    s = gallery["settings"]
    text = (f"The key keepers of `musicgate demo`'s page (`python benchmarks/key_keepers.py`): {s['num']} tunes "
            f"of {s['length']} notes in each of {', '.join(s['keys'])}, seed {s['seed']} "
            "(the demo's defaults; plain sampling at temperature 1, as the page says). Units: the three whose state best tells the key, "
            "scored by a one-unit read-out learnt on half the tunes and scored on the other half, from note 9 on.\n\n"
            + table(["model", "units", "they tell the key", "median unit", "chance"], rows_of(gallery)))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
