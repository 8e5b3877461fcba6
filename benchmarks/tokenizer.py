"""File -> token ids and token ids -> MIDI file: musicgate against MidiTok 3 (REMI and TSD).

Two groups of rows on the same files. Without instruments: musicgate reads pitched tracks only
(``read_midi``), the event vocabulary merges every track into one program. With instruments:
``read_midi(drums=True)`` and the event vocabulary with ``programs=True``, against MidiTok REMI with
``use_programs=True`` (one token stream, drums included). notes/s count the notes musicgate reads
in each group, so the ratios compare the same work on the same files, though MidiTok also tokenizes
the drum tracks in the first group. "notes kept" is the share of the notes a tokenizer reads (MidiTok:
drums included) that come back out of its decoder, and "tokens/note" the length of its token
sequences per note read.

Run: python benchmarks/tokenizer.py [-o benchmarks/results/tokenizer.md]   (reads ../shared/midi and music21's
Bach chorales)
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, best_time, chorale_midis, emit_table, machine, table  # noqa: E402

from musicgate.music.midi import read_midi, write_midi  # noqa: E402
from musicgate.tokens.tokenizer import make_tokenizer  # noqa: E402

REPEAT = 5
"""Timed passes per measurement, the best kept: the same for every library."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=None, help="also write the tables here (markdown)")
    args = parser.parse_args(argv)
    import miditok

    load = os.getloadavg()[0]  # before this run adds its own
    files = [f for f in sorted((SHARED / "midi").glob("*/*.mid")) if f.parent.name != "corrupted"]
    files += chorale_midis()
    n_notes = sum(len(read_midi(f)) for f in files)
    n_drums = sum(len(read_midi(f, drums=True)) for f in files)
    # Written files go to tmpfs where there is one: this disk takes ~3 ms per small-file write,
    # which would measure the disk, not the libraries (both write to the same place).
    tmp = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))

    def ours(kind: str, **config):
        tok = make_tokenizer(kind, **config)
        drums = bool(config.get("programs"))
        encoded = [tok.encode(read_midi(f, drums=drums)) for f in files]
        enc = best_time(lambda: [tok.encode(read_midi(f, drums=drums)) for f in files], REPEAT)
        dec = best_time(lambda: [write_midi(tok.decode(ids), tmp / "out.mid") for ids in encoded], REPEAT)
        read = n_drums if drums else n_notes
        return enc, dec, sum(len(tok.decode(ids)) for ids in encoded) / read, sum(map(len, encoded)) / read

    def theirs(cls, **config):
        tok = cls(miditok.TokenizerConfig(**config))
        encoded = [tok.encode(f) for f in files]
        enc = best_time(lambda: [tok.encode(f) for f in files], REPEAT)
        dec = best_time(lambda: [tok.decode(seq).dump_midi(tmp / "out.mid") for seq in encoded], REPEAT)
        kept = sum(len(t.notes) for seq in encoded for t in tok.decode(seq).tracks)
        n_tokens = sum(len(s) for seq in encoded for s in (seq if isinstance(seq, list) else [seq]))
        return enc, dec, kept / n_drums, n_tokens / n_drums

    try:
        plain = {"musicgate event": ours("event"), "musicgate melody": ours("melody"),
                 "MidiTok REMI": theirs(miditok.REMI), "MidiTok TSD": theirs(miditok.TSD)}
        with_programs = {"musicgate event, programs": ours("event", programs=True),
                         "MidiTok REMI, use_programs": theirs(miditok.REMI, use_programs=True)}
    finally:
        shutil.rmtree(tmp)
    header = ["tokenizer", "encode notes/s", "decode notes/s", "encode vs REMI", "decode vs REMI", "notes kept",
              "tokens/note"]
    text = (f"`python benchmarks/tokenizer.py`: {len(files)} files: ../shared/midi and {len(files) - 29} Bach chorales; "
            f"best of {REPEAT}; output files on {tmp.parent}; {machine()}; load average {load:.2f} at the start\n\n")
    for title, n, results in [(f"Without instruments ({n_notes:,} notes, drums not read)", n_notes, plain),
                              (f"With instruments ({n_drums:,} notes, drums included)", n_drums, with_programs)]:
        rows = []
        remi_enc, remi_dec = (n / t for t in next(r for name, r in results.items() if "REMI" in name)[:2])
        for name, (enc, dec, kept, per_note) in results.items():
            rows.append([name, n / enc, n / dec, f"{n / enc / remi_enc:.1f}x", f"{n / dec / remi_dec:.1f}x",
                         f"{kept:.1%}", per_note])
        text += f"{title}:\n\n" + table(header, rows) + "\n\n"
    emit_table(text, args.output)


if __name__ == "__main__":
    main()
