"""Seconds of audio rendered per second of wall time, per synthesizer, on real MIDI files.

    python benchmarks/render.py [--files N] [--beats B] [--sample-rate 44100]

Renders the first ``B`` beats of a few files from ``../shared/midi`` (piano and multitrack with
drums) with each available backend of :func:`musicgate.music.audio.render` (tinysoundfont; FluidSynth
when pyfluidsynth and libfluidsynth are installed) and prints a markdown table. Each render is
timed once after one warm-up render of a short file (the soundfont load is inside the timing).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from musicgate.music.audio import fluidsynth_available, render, tinysoundfont_available
from musicgate.music.midi import read_midi

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "midi"
FILES = ("one_track/POP909_008.mid", "one_track/Maestro_1.mid", "one_track/6354774_Macabre Waltz.mid",
         "multitrack/Funkytown.mid", "multitrack/Mr. Blue Sky.mid", "multitrack/Aicha.mid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=len(FILES), help="how many files (default all 6)")
    parser.add_argument("--beats", type=float, default=128.0, help="beats rendered per file (default 128)")
    parser.add_argument("--sample-rate", type=int, default=44100)
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: the benchmark reads the shared MIDI files beside the repo")
    backends = [b for b, ok in (("tinysoundfont", tinysoundfont_available()),
                                ("fluidsynth", fluidsynth_available())) if ok]
    if not backends:
        raise SystemExit("no synthesizer: pip install --no-deps tinysoundfont")
    pieces = []
    for name in FILES[: args.files]:
        notes = read_midi(SHARED / name, drums=True)
        pieces.append((name, notes.select(notes.onset < args.beats)))
    for backend in backends:  # warm-up: imports, first soundfont load
        render(pieces[0][1].select(pieces[0][1].onset < 4), backend=backend, sample_rate=args.sample_rate)
    print(f"| file | notes | tracks | backend | audio s | wall s | audio s per wall s |")
    print("|---|---:|---:|---|---:|---:|---:|")
    totals = {b: [0.0, 0.0] for b in backends}
    for name, notes in pieces:
        for backend in backends:
            start = time.perf_counter()
            audio = render(notes, backend=backend, sample_rate=args.sample_rate)
            wall = time.perf_counter() - start
            seconds = len(audio) / args.sample_rate
            totals[backend][0] += seconds
            totals[backend][1] += wall
            tracks = len(set(notes.track.tolist()))
            print(f"| {Path(name).name} | {len(notes)} | {tracks} | {backend} | {seconds:.1f} | "
                  f"{wall:.2f} | {seconds / wall:.0f}x |")
    for backend, (seconds, wall) in totals.items():
        print(f"| **all** | | | {backend} | {seconds:.1f} | {wall:.2f} | **{seconds / wall:.0f}x** |")


if __name__ == "__main__":
    main()
