"""Speed of key finding: music21's ``analyze('key')`` per tune against musicgate's, and the
windowed analysis of 1,000 sequences x 1,024 notes.

    nice -n 10 .venv/bin/python benchmarks/keys.py [--tunes 300] [--repeat 3]

Both analyzers see the same Essen tunes (parsed by music21 first; parsing is not timed):
music21 runs ``score.analyze('key')`` (Aarden-Essen) on the parsed score, musicgate runs
:func:`~musicgate.analysis.keyfind.estimate_key` with the same profile on the tune's pitch and duration
arrays, one call per tune, and :func:`~musicgate.analysis.keyfind.estimate_keys` on all tunes at once.
The two are timed interleaved in one process, so load from other work hits both alike.
Prints a markdown table; targets: >= 1,000x per tune, <= 2 s for the windowed analysis.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, machine  # noqa: E402

from musicgate.analysis.keyfind import estimate_key, estimate_keys, pc_histogram, windowed_keys_batch
from musicgate.music.keys import Key

ESSEN_FILES = ("essenFolksong/ballad10", "essenFolksong/kinder0", "essenFolksong/altdeu10")


def essen_tunes(n: int) -> list[tuple[object, np.ndarray, np.ndarray]]:
    """(score, pitch, duration) of the first ``n`` tunes of a few Essen files."""
    from music21 import corpus, note

    out = []
    for name in ESSEN_FILES:
        for score in corpus.parse(name).scores:
            notes = score.flatten().notesAndRests.getElementsNotOfClass(note.Unpitched).notes
            pitch = np.array([p.midi for x in notes for p in x.pitches], dtype=np.int64)
            dur = np.array([float(x.quarterLength) for x in notes for _ in x.pitches])
            out.append((score, pitch, dur))
            if len(out) == n:
                return out
    return out


def bench_per_tune(tunes, repeat: int) -> dict:
    """Best-of-``repeat`` CPU time per tune for each analyzer.

    CPU time (``time.process_time``), not wall time: on a shared machine a 20 ms call is
    descheduled far more often than a 20 us one, which would inflate the ratio.
    """
    m21_t = np.full((repeat, len(tunes)), np.inf)
    ours_t = np.full((repeat, len(tunes)), np.inf)
    agree = 0
    for r in range(repeat):
        for i, (score, pitch, dur) in enumerate(tunes):
            t0 = time.process_time()
            ref = score.analyze("key")
            m21_t[r, i] = time.process_time() - t0
            t0 = time.process_time()
            for _ in range(20):  # twenty calls: one is close to the clock's resolution
                ours = estimate_key(pitch, dur, profile="aarden-essen")
            ours_t[r, i] = (time.process_time() - t0) / 20
            agree += ours.key == Key(ref.tonic.pitchClass, ref.mode)
    m21, mine = m21_t.min(axis=0), ours_t.min(axis=0)
    hists = np.stack([pc_histogram(p, d) for _, p, d in tunes])
    batch = []
    for _ in range(max(repeat, 5)):
        t0 = time.process_time()
        estimate_keys(hists, "aarden-essen")
        batch.append(time.process_time() - t0)
    return {"m21": float(np.median(m21)), "ours": float(np.median(mine)),
            "ratio": float(m21.sum() / mine.sum()),
            "batch": float(np.min(batch)) / len(tunes), "agree": agree / (repeat * len(tunes))}


def bench_windows(n_seq: int, length: int, window: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    # diatonic-ish melodies: C major scale degrees with some chromatic notes, random lengths
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    pitch = 60 + scale[rng.integers(0, 7, (n_seq, length))] + 12 * rng.integers(-1, 2, (n_seq, length))
    pitch += (rng.random((n_seq, length)) < 0.1)
    dur = rng.choice([0.25, 0.5, 1.0, 1.5, 2.0], (n_seq, length))
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        wk = windowed_keys_batch(pitch, dur, window=window, stride=1)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"seconds": float(np.min(times)), "cpu": float(np.min(cpu)),
            "windows": int(wk.valid.sum())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tunes", type=int, default=300, help="Essen tunes to time (default 300)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sequences", type=int, default=1000)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("-o", "--output", type=Path, default=None, help="also write the table here (markdown)")
    args = ap.parse_args(argv)
    out: list[str] = []
    say = out.append

    tunes = essen_tunes(args.tunes)
    per = bench_per_tune(tunes, args.repeat)
    win = bench_windows(args.sequences, args.length, args.window, args.repeat)
    speedup = per["ratio"]
    say(f"\n### Key finding speed ({len(tunes)} Essen tunes, best of {args.repeat} runs per "
          f"tune; profile Aarden-Essen)\n")
    say("| what | CPU time (median tune) | vs music21 | target |")
    say("|---|---:|---:|---|")
    say(f"| music21 `score.analyze('key')`, per tune | {1e3 * per['m21']:.2f} ms | 1x | |")
    say(f"| musicgate `estimate_key`, per tune | {1e6 * per['ours']:.1f} us | {speedup:,.0f}x "
          f"| >= 1,000x: {'met' if speedup >= 1000 else 'NOT met'} |")
    say(f"| musicgate `estimate_keys`, batch of {len(tunes)}, per tune | "
          f"{1e9 * per['batch']:.0f} ns | {per['m21'] / per['batch']:,.0f}x | |")
    say(f"| `windowed_keys_batch`, {args.sequences:,} x {args.length:,} notes, window "
          f"{args.window}, stride 1 ({win['windows']:,} windows) | {win['cpu']:.2f} s "
          f"(wall {win['seconds']:.2f} s) | | <= 2 s: {'met' if win['cpu'] <= 2 else 'NOT met'} |")
    say(f"\nsame key as music21 on {100 * per['agree']:.1f}% of the timed tunes; speed-up = "
          "total music21 CPU time / total musicgate CPU time over the tunes.")
    say(f"\n`python benchmarks/keys.py --tunes {args.tunes} --repeat {args.repeat}`; {machine()}; load average "
        f"{os.getloadavg()[0]:.2f} at the end")
    emit_table("\n".join(out), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
