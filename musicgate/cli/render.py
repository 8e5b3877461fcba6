"""``musicgate render``: a MIDI file -> a WAV file, with a General MIDI soundfont."""
from __future__ import annotations

import time
from pathlib import Path

from musicgate.cli.common import command, out_file, positive_int
from musicgate.music.audio import BACKENDS, render_file


def register(sub) -> None:
    p = command(sub, "render", "MIDI file -> WAV with a General MIDI soundfont",
                "musicgate render song.mid -o song.wav",
                "musicgate render song.mid --soundfont FluidR3_GM.sf2 --sample-rate 22050")
    p.add_argument("file", type=Path, help="the .mid file")
    p.add_argument("-o", "--output", type=out_file, help="WAV to write (default: FILE with .wav)")
    p.add_argument("--soundfont", type=Path, help="a .sf2 file (default: pretty_midi's TimGM6mb.sf2)")
    p.add_argument("--sample-rate", type=positive_int, default=44100, help="samples per second, Hz (default 44100)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="synthesizer (auto: midirenderer, else tinysoundfont or FluidSynth when installed)")
    p.set_defaults(func=render)


def render(args) -> int:
    import soundfile

    start = time.perf_counter()
    path = render_file(args.file, args.output, soundfont=args.soundfont,
                       sample_rate=args.sample_rate, backend=args.backend)
    wall = time.perf_counter() - start
    seconds = soundfile.info(str(path)).duration
    print(f"wrote {path} ({seconds:.1f} s of audio at {args.sample_rate} Hz, "
          f"rendered in {wall:.1f} s)")
    return 0
