"""Seconds of audio rendered per second of wall time, per synthesizer, on real MIDI files.

    python benchmarks/render.py [--files N] [--beats B] [--sample-rate 44100]

Renders the first ``B`` beats of a few files from ``../shared/midi`` (piano and multitrack with
drums) with each installed backend of :func:`musicgate.music.audio.render` (midirenderer, the
default; tinysoundfont and FluidSynth when installed), side by side, and prints a markdown table
(also written to ``--output``, default ``benchmarks/results/render.md``). Each render is timed once
after one warm-up render of a short file (the soundfont load is inside the timing); ``passes`` is
how many times midirenderer renders the file to stay within its 64 voices and 16 channels.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from musicgate.files import atomic_write_text
from musicgate.music import midirender
from musicgate.music.audio import fluidsynth_available, midirenderer_available, render, tinysoundfont_available
from musicgate.music.midi import read_midi

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "midi"
FILES = ("one_track/POP909_008.mid", "one_track/Maestro_1.mid", "one_track/6354774_Macabre Waltz.mid",
         "multitrack/Funkytown.mid", "multitrack/Mr. Blue Sky.mid", "multitrack/Aicha.mid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=len(FILES), help="how many files (default all 6)")
    parser.add_argument("--beats", type=float, default=128.0, help="beats rendered per file (default 128)")
    parser.add_argument("--sample-rate", type=int, default=44100, help="Hz (default 44100)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "render.md",
                        help="markdown file to write (default benchmarks/results/render.md)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: the benchmark reads the shared MIDI files beside the repo")
    backends = [b for b, ok in (("midirenderer", midirenderer_available()),
                                ("tinysoundfont", tinysoundfont_available()),
                                ("fluidsynth", fluidsynth_available())) if ok]
    if not backends:
        raise SystemExit("no synthesizer: pip install midirenderer")
    pieces = []
    for name in FILES[: args.files]:
        notes = read_midi(SHARED / name, drums=True)
        pieces.append((name, notes.select(notes.onset < args.beats)))
    for backend in backends:  # warm-up: imports, first soundfont load
        render(pieces[0][1].select(pieces[0][1].onset < 4), backend=backend, sample_rate=args.sample_rate)
    lines = [f"Seconds of audio rendered per second, {args.sample_rate} Hz stereo, first {args.beats:g} beats "
             f"of each file; `python benchmarks/render.py` on {platform.machine()} with "
             f"{len(os.sched_getaffinity(0))} cores.", "",
             "| file | notes | tracks | backend | passes | audio s | wall s | audio s per wall s |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    for line in lines:
        print(line)
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
            passes = len(midirender.passes(notes)) if backend == "midirenderer" else 1
            lines.append(f"| {Path(name).name} | {len(notes)} | {tracks} | {backend} | {passes} | {seconds:.1f} | "
                         f"{wall:.2f} | {seconds / wall:.0f}x |")
            print(lines[-1], flush=True)
    for backend, (seconds, wall) in totals.items():
        lines.append(f"| **all** | | | {backend} | | {seconds:.1f} | {wall:.2f} | **{seconds / wall:.0f}x** |")
        print(lines[-1])
    atomic_write_text(args.output, "\n".join(lines) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
