"""How the key measures of ``musicgate evaluate`` read real tunes in each mode of the folk corpus.

    python benchmarks/modal_keys.py [--most 1000] [-o benchmarks/results/modal-keys.md]

The whole-piece key finder names one of the 24 major and minor keys. A tune in A dorian counts as
"same signature" when it names G major or E minor, and as "same tonic and mode" when it names A
minor (:func:`~musicgate.analysis.musicality.key_exact_match`): for a modal tune the two exclude
each other. This reads the real tunes of every mode (all splits, at most ``--most`` per mode, as
played) with the same code, so a generated set in the modes can be read against real modal tunes
(the evaluate reference, 200 test tunes, holds one mixolydian tune and no dorian one).

It then says what tunes that read like these real tunes would score on a six-key set: on the
musicality set (``common.MUSICALITY_KEYS``), and on the six keys, at least one major, one minor and
``--modes`` modal keys (modes with at least ``--min-tunes`` real tunes), that would score highest.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MUSICALITY_KEYS, emit_table, table  # noqa: E402

MEASURES = (("key_signature", "same signature"), ("key_exact", "same tonic and mode"),
            ("window_key", "32-note windows in the key"), ("in_signature", "notes in the signature"),
            ("ends_on_tonic", "ends on the tonic"))
SET_MEASURES = MEASURES[:2]


def set_score(rates: dict[str, float], modes: list[str]) -> float:
    """Mean of ``rates`` (mode -> share) over the modes of a key set: what tunes that read like
    the real tunes of each mode would score on it."""
    return float(np.mean([rates[m] for m in modes]))


def best_set(rates: dict[str, float], size: int = 6, modal: int = 1) -> list[str]:
    """The modes of the ``size``-key set with at least one major key, one minor key and ``modal``
    keys in other modes of ``rates`` that scores highest by :func:`set_score` (a mode may come
    more than once, as keys with other tonics)."""
    others = sorted((m for m in rates if m not in ("major", "minor")), key=rates.get, reverse=True)
    if not {"major", "minor"} <= rates.keys() or not others or size < 2 + modal:
        raise ValueError("need major, minor and a modal mode, and room for them")
    chosen = ["major", "minor"] + [others[0]] * modal
    best = max(rates, key=rates.get)
    return chosen + [best] * (size - len(chosen))


def _counted(modes: list[str]) -> str:
    """``['major', 'minor', 'major']`` as ``'2 major, 1 minor'`` (first seen first)."""
    return ", ".join(f"{modes.count(m)} {m}" for m in dict.fromkeys(modes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--most", type=int, default=1000, help="tunes per mode at most (the first by index)")
    parser.add_argument("--min-tunes", type=int, default=30, help="modes with fewer real tunes left out of the best set")
    parser.add_argument("--modes", type=int, default=2, help="modal keys the best set holds at least")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    from musicgate.analysis.musicality import measure_batch
    from musicgate.data.dataset import load_data
    from musicgate.music.keys import MODES

    data = load_data("folk")
    tok = data.tokenizer
    by_mode: dict[str, list] = {m: [] for m in MODES}
    for i in range(len(data.offsets) - 1):
        ids = data.tune(i)
        key = tok.key_of(ids)
        if key is not None and len(by_mode[key.mode]) < args.most:
            by_mode[key.mode].append((tok.decode(ids).played(), key))
    rows, rates = [], {m: {} for m, _ in SET_MEASURES}
    for mode, tunes in by_mode.items():
        if not tunes:
            continue
        got = measure_batch([n for n, _ in tunes], [k for _, k in tunes])
        means = {m: float(np.nanmean([g[m] for g in got])) for m, _ in MEASURES}
        rows.append([mode, f"{len(tunes):,}", *[f"{means[m]:.2f}" for m, _ in MEASURES]])
        if len(tunes) >= args.min_tunes:
            for m, _ in SET_MEASURES:
                rates[m][mode] = means[m]
    sets = [("the musicality set: " + ", ".join(MUSICALITY_KEYS), [k.split()[-1] for k in MUSICALITY_KEYS])]
    for modal in sorted({1, args.modes}):
        modes = best_set(rates["key_signature"], modal=modal)
        sets.append((f"the best six for the signature with {modal}+ modal key{'s' * (modal > 1)} "
                     f"(modes with {args.min_tunes}+ tunes): " + _counted(modes), modes))
    set_rows = [[name, *[f"{set_score(rates[m], modes):.2f}" for m, _ in SET_MEASURES]] for name, modes in sets]
    text = (f"Real tunes of `datasets/folk` by the mode of their KEY (all splits, at most {args.most:,} per mode, "
            "as played), read by `musicgate evaluate`'s measures (`python benchmarks/modal_keys.py`).\n\n"
            + table(["mode", "tunes", *[label for _, label in MEASURES]], rows)
            + "\n\nWhat tunes that read like these real tunes would score on a set of six keys, each key's mode "
            "weighted equally (the mean of the rows above over the set's modes):\n\n"
            + table(["six keys (their modes)", *[label for _, label in SET_MEASURES]], set_rows))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
