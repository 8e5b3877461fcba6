"""File -> token ids and token ids -> MIDI file: musicgate against MidiTok 3 (REMI and TSD).

Run: python benchmarks/tokenizer.py   (reads ../shared/midi and music21's Bach chorales)
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, best_time, chorale_midis, machine, table  # noqa: E402

from musicgate.music.midi import read_midi, write_midi  # noqa: E402
from musicgate.tokens.tokenizer import make_tokenizer  # noqa: E402

REPEAT = 5
"""Timed passes per measurement, the best kept: the same for every library."""


def main() -> None:
    import miditok

    load = os.getloadavg()[0]  # before this run adds its own
    files = [f for f in sorted((SHARED / "midi").glob("*/*.mid")) if f.parent.name != "corrupted"]
    files += chorale_midis()
    n_notes = sum(len(read_midi(f)) for f in files)
    # Written files go to tmpfs where there is one: this disk takes ~3 ms per small-file write,
    # which would measure the disk, not the libraries (both write to the same place).
    tmp = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    rows = []

    def ours(kind: str):
        tok = make_tokenizer(kind)
        encoded = [tok.encode(read_midi(f)) for f in files]
        enc = best_time(lambda: [tok.encode(read_midi(f)) for f in files], REPEAT)
        dec = best_time(lambda: [write_midi(tok.decode(ids), tmp / "out.mid") for ids in encoded], REPEAT)
        return enc, dec

    def theirs(cls):
        tok = cls(miditok.TokenizerConfig())
        encoded = [tok.encode(f) for f in files]
        enc = best_time(lambda: [tok.encode(f) for f in files], REPEAT)
        dec = best_time(lambda: [tok.decode(seq).dump_midi(tmp / "out.mid") for seq in encoded], REPEAT)
        return enc, dec

    try:
        results = {"musicgate event": ours("event"), "musicgate melody": ours("melody"),
                   "MidiTok REMI": theirs(miditok.REMI), "MidiTok TSD": theirs(miditok.TSD)}
    finally:
        shutil.rmtree(tmp)
    remi_enc, remi_dec = (n_notes / t for t in results["MidiTok REMI"])
    for name, (enc, dec) in results.items():
        rows.append([name, n_notes / enc, n_notes / dec, f"{n_notes / enc / remi_enc:.1f}x",
                     f"{n_notes / dec / remi_dec:.1f}x"])
    print(f"{len(files)} files ({n_notes:,} notes): ../shared/midi and {len(files) - 29} Bach chorales; "
          f"best of {REPEAT}; output files on {tmp.parent}; {machine()}; load average {load:.2f} at the start\n")
    print(table(["tokenizer", "encode notes/s", "decode notes/s", "encode vs REMI", "decode vs REMI"], rows))


if __name__ == "__main__":
    main()
