"""Where does the music go when its windowed key is not the asked one? From a retention run's raw.npz.

    python benchmarks/key_confusion.py RUN_DIR [RUN_DIR ...] [--window 32] [--by-mode] [-o benchmarks/results/key-confusion.md]

``musicgate experiment retention`` writes ``raw.npz`` with the key of every window of each sequence
(and of the real tunes, the ceiling). Each window's key is put in one class against the sequence's
asked key: the same key; the relative key (same signature, other mode); the dominant or the
subdominant (same mode); the parallel key (same tonic); another key one accidental away; further.
Rows: the real tunes (all windows), then each model at the windows starting near notes 0, 1,024 and
4,096 (64 windows each). A model that keeps the scale but loses its centre moves windows into
"relative" while its notes stay in the signature. ``--by-mode`` splits every row by the asked key's
mode (major, minor): a model can hold its major keys and lose its minor ones.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table  # noqa: E402

CLASSES = ("same", "relative", "dominant", "subdominant", "parallel", "one accidental away", "further")
PLACES = {"notes 1-64": (0, 64), "near note 1,024": (992, 1056), "near note 4,096": (4001, 4065)}
"""Window starts (0-based, windows of 32 notes) read for each model."""


def relation(key, target) -> str:
    """The class of window key ``key`` against the asked ``target`` (both major or minor Keys)."""
    if key == target:
        return "same"
    if set(key.pitch_classes) == set(target.pitch_classes):
        return "relative"
    if key.mode == target.mode and (key.tonic - target.tonic) % 12 in (5, 7):
        return "dominant" if (key.tonic - target.tonic) % 12 == 7 else "subdominant"
    if key.tonic == target.tonic:
        return "parallel"
    return "one accidental away" if len(set(key.pitch_classes) ^ set(target.pitch_classes)) == 2 else "further"


def shares(keys: np.ndarray, targets: np.ndarray) -> tuple[dict, int]:
    """Share of windows per class, and the number of windows, of (B, W) window keys (-1: none)."""
    from musicgate.music.keys import MAJOR_MINOR_KEYS

    counts = dict.fromkeys(CLASSES, 0)
    for b, row in enumerate(keys):
        for k in row[row >= 0]:
            counts[relation(MAJOR_MINOR_KEYS[int(k)], MAJOR_MINOR_KEYS[int(targets[b])])] += 1
    n = sum(counts.values())
    return {c: counts[c] / n if n else float("nan") for c in CLASSES}, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="retention run folders (with raw.npz)")
    parser.add_argument("--window", type=int, default=32, help="window length in notes (as the run measured)")
    parser.add_argument("--by-mode", action="store_true", help="one row per asked mode (major, minor)")
    parser.add_argument("-o", "--output", type=Path, help="also write the table here")
    args = parser.parse_args()
    from musicgate.analysis.retention import target_indices
    from musicgate.music.keys import MAJOR_MINOR_KEYS

    rows, real_done = [], False
    for run in args.runs:
        path = run / "raw.npz"
        if not path.is_file():
            sys.exit(f"key_confusion.py: {path} is missing; give the folder musicgate experiment retention wrote")
        raw = np.load(path)
        labels = sorted({f.rsplit("_", 1)[0] for f in raw.files if f.endswith("_targets")})
        for label in labels:
            keys = raw.get(f"{label}_key_w{args.window}")
            if keys is None:
                sys.exit(f"key_confusion.py: {path} has no windows of {args.window} notes")
            targets = target_indices([str(t) for t in raw[f"{label}_targets"]])
            groups = [("", np.ones(len(targets), bool))]
            if args.by_mode:
                minor = np.array([MAJOR_MINOR_KEYS[int(t)].mode == "minor" for t in targets])
                groups = [(", major keys", ~minor), (", minor keys", minor)]
            if label == "real":
                if not real_done:
                    rows[:0] = [("real tunes (ceiling)" + name, "all windows", *shares(keys[m], targets[m]))
                                for name, m in groups]
                    real_done = True
                continue
            for name, m in groups:
                for place, (a, b) in PLACES.items():
                    if keys.shape[1] > a:
                        rows.append((label + name, place, *shares(keys[m, a:b], targets[m])))
    lines = [f"Windowed keys ({args.window} notes) against the asked key, share of windows per class "
             f"(`python benchmarks/key_confusion.py RUN ...` on the retention runs "
             f"{', '.join(f'`{r.name}`' for r in args.runs)}"
             f"{'; every row split by the asked mode, `--by-mode`' if args.by_mode else ''}).", "",
             "| sequences | windows | " + " | ".join(CLASSES) + " | windows counted |",
             "|---|---|" + "---:|" * (len(CLASSES) + 1)]
    for label, place, share, n in rows:
        lines.append(f"| {label} | {place} | " + " | ".join(f"{share[c]:.3f}" for c in CLASSES) + f" | {n:,} |")
    text = "\n".join(lines) + "\n"
    emit_table(text, args.output)


if __name__ == "__main__":
    main()
