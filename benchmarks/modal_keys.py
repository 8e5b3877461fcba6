"""How the key measures of ``musicgate evaluate`` read real tunes in each mode of the folk corpus.

    python benchmarks/modal_keys.py [--most 1000] [-o benchmarks/results/modal-keys.md]

The whole-piece key finder names one of the 24 major and minor keys. A tune in A dorian counts as
"same signature" when it names G major or E minor, and as "same tonic and mode" when it names A
minor (:func:`~musicgate.analysis.musicality.key_exact_match`): for a modal tune the two exclude
each other. This reads the real tunes of every mode (all splits, at most ``--most`` per mode, as
played) with the same code, so a generated set in the modes can be read against real modal tunes
(the evaluate reference, 200 test tunes, holds one mixolydian tune and no dorian one).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, table  # noqa: E402

MEASURES = (("key_signature", "same signature"), ("key_exact", "same tonic and mode"),
            ("window_key", "32-note windows in the key"), ("in_signature", "notes in the signature"),
            ("ends_on_tonic", "ends on the tonic"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--most", type=int, default=1000, help="tunes per mode at most (the first by index)")
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
    rows = []
    for mode, tunes in by_mode.items():
        if not tunes:
            continue
        got = measure_batch([n for n, _ in tunes], [k for _, k in tunes])
        cells = [f"{np.nanmean([g[m] for g in got]):.2f}" for m, _ in MEASURES]
        rows.append([mode, f"{len(tunes):,}", *cells])
    text = (f"Real tunes of `datasets/folk` by the mode of their KEY (all splits, at most {args.most:,} per mode, "
            "as played), read by `musicgate evaluate`'s measures (`python benchmarks/modal_keys.py`).\n\n"
            + table(["mode", "tunes", *[label for _, label in MEASURES]], rows))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
