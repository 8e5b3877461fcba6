"""musicgate's ABC reader against music21's full parse: same notes, and how much faster.

For each folk tune (or a random sample of ``--tunes``), reads it both ways, compares the Notes
(pitches, onsets, durations, tracks, keys, meters, tempos) and times each. Prints the agreement,
every tune that differs (with the first difference), and a speed table.

    python benchmarks/abc_reader.py [--tunes N] [--corpus folk|essen|oneills|ryans] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from multiprocessing import get_context

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, table  # noqa: E402


def _difference(a, b) -> dict[str, str]:
    """What differs between two Notes, by part: notes, keys, meters, tempos."""
    import numpy as np

    out = {}
    if len(a) != len(b):
        out["notes"] = f"{len(a)} notes vs {len(b)}"
    for field in ("pitch", "onset", "duration", "track", "velocity"):
        x, y = getattr(a, field), getattr(b, field)
        if "notes" not in out and not np.array_equal(x, y):
            i = int(np.flatnonzero(x != y)[0])
            out["notes"] = f"{field}[{i}] {x[i]} vs {y[i]} (onset {a.onset[i]:g})"
    for field in ("keys", "meters"):
        if getattr(a, field) != getattr(b, field):
            out[field] = f"{getattr(a, field)} vs {getattr(b, field)}"
    if not np.array_equal(a.tempos, b.tempos):
        out["tempos"] = f"{a.tempos.tolist()} vs {b.tempos.tolist()}"
    return out


def compare(text: str) -> tuple[float, float, dict[str, str]]:
    """Seconds for musicgate, seconds for music21, and what differs (empty when nothing does)."""
    import music21

    from musicgate.music.abc import read_abc
    from musicgate.errors import MidiError
    from musicgate.music.score import from_music21

    t0 = time.perf_counter()
    try:
        ours = read_abc(text).notes
    except MidiError as exc:
        ours = exc
    t1 = time.perf_counter()
    try:
        stream = music21.converter.parse("%abc-2.1\n" + text, format="abc")
        if isinstance(stream, music21.stream.Opus):
            stream = stream.scores[0]
        theirs = from_music21(stream)
    except Exception as exc:  # music21 raises many kinds of errors on bad input
        theirs = exc
    t2 = time.perf_counter()
    if isinstance(ours, Exception) or isinstance(theirs, Exception):
        same = isinstance(ours, Exception) and isinstance(theirs, Exception)
        return t1 - t0, t2 - t1, {} if same else {"errors": f"{ours!r} vs {theirs!r}"[:200]}
    return t1 - t0, t2 - t1, _difference(ours, theirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="folk", choices=["folk", "essen", "oneills", "ryans"])
    ap.add_argument("--tunes", type=int, default=0, help="a random sample of N tunes (default: all)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="list meter differences too")
    args = ap.parse_args()

    from tqdm import tqdm

    from musicgate.data.corpus import corpus_for

    corpus = corpus_for(args.corpus)
    items = corpus.items(corpus.files())
    if args.tunes:
        items = random.Random(args.seed).sample(items, min(args.tunes, len(items)))
    texts = [it.text for it in items]
    with get_context("spawn").Pool(args.workers) as pool:
        results = list(tqdm(pool.imap(compare, texts, chunksize=16), total=len(texts), unit="tune"))
    parts = ("notes", "keys", "tempos", "errors", "meters")
    for it, (_, _, d) in zip(items, results):
        for part in parts[:-1] if not args.verbose else parts:
            if part in d:
                print(f"{part} differ: {it.source}: {d[part]}")
    ours, theirs = sum(r[0] for r in results), sum(r[1] for r in results)
    n = len(results)
    print(f"\n{machine()}; {args.corpus}, {n} tunes, {args.workers} workers, load {os.getloadavg()[0]:.1f}")
    for part in parts:
        same = sum(part not in d for _, _, d in results)
        print(f"same {part} as music21: {same} of {n} ({100 * same / n:.2f}%)")
    same = sum(not d.keys() - {"meters"} for _, _, d in results)
    print(f"same notes, keys and tempos, no error: {same} of {n} ({100 * same / n:.2f}%)\n")
    print(table(["reader", "ms per tune", "tunes/s (one core)", "speed-up"],
                [["musicgate read_abc", 1e3 * ours / n, n / ours, theirs / ours],
                 ["music21 parse + from_music21", 1e3 * theirs / n, n / theirs, 1.0]]))


if __name__ == "__main__":
    main()
