"""Where a tune marks time: bars that repeat one pitch, counted back from the end, real tunes beside generated ones.

    python benchmarks/static_bars.py DIR [DIR ...] [--reference folk] [-o FILE]

``musicgate evaluate`` counts the bars that repeat one pitch (``A A A A``, of the bars with two or more
notes) over a whole tune. This reads the same sets as ``evaluate`` does (folders of generated MIDI
files with their JSON records, and 200 held-out real tunes of the folk corpus, drawn as ``evaluate``
draws them, as played) and splits the count by place: the last bar with two or more notes, the one
before it, and so on back to the fourth from the end, then all the others; and how many of those
static bars repeat the tonic of the asked key; and the share of tunes whose final bar is one note
(a real tune's usual ending, one long tonic). If the extra static bars sit at the end, on the tonic,
they are the models' cadence (trained with each tune's last bar counted 8 and then 32 times in the
loss), not their melody at large.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, table  # noqa: E402

BACK = 4
"""The places counted from the end (the last bar with two or more notes is 1)."""


def static_by_place(pieces) -> dict:
    """{"n": tunes, "places": [(static share, tonic share of those) for the last, 2nd-last ... bar, then the
    rest], "one_note_end": share of tunes whose final bar is one note} of a list of
    :class:`~musicgate.experiments.evaluate.Piece`."""
    from musicgate.analysis.musicality import _bar_contents

    counts = np.zeros((BACK + 1, 3), np.int64)   # per place: busy bars, static bars, static on the tonic
    n = one = 0
    for piece in pieces:
        bars = _bar_contents(piece.notes)
        if not bars:
            continue
        n += 1
        one += len(bars[-1][1]) == 1
        busy = [p for _, p, _ in bars if len(p) >= 2][::-1]
        for j, pitches in enumerate(busy):
            place = min(j, BACK)
            static = len(set(pitches)) == 1
            counts[place] += (1, static, static and (pitches[0] - piece.key.tonic) % 12 == 0)
    shares = [(c[1] / c[0] if c[0] else np.nan, c[2] / c[1] if c[1] else np.nan) for c in counts]
    return {"n": n, "places": shares, "one_note_end": one / n if n else np.nan}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path, help="folders of generated tunes (as musicgate evaluate reads them)")
    ap.add_argument("--reference", default="folk", help="real tunes to compare with (as musicgate evaluate's)")
    ap.add_argument("-o", "--output", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    from musicgate.errors import MusicgateError
    from musicgate.experiments.evaluate import load_pieces, load_reference

    try:
        sets = [load_reference(args.reference), *load_pieces(args.sets)]
    except MusicgateError as e:
        print(f"static_bars.py: {e}", file=sys.stderr)
        return 2
    rows = []
    for s in sets:
        got = static_by_place(s.pieces)
        cells = [f"{a:.2f} ({b:.2f})" for a, b in got["places"]]
        rows.append([s.name, got["n"], f"{got['one_note_end']:.2f}", *cells])
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    places = ["last bar", "2nd from the end", "3rd", "4th", "all before"]
    text = (f"Bars that repeat one pitch (of the bars with two or more notes), by place from the end of the tune, "
            f"as played; in parentheses the share of those on the tonic of the asked key "
            f"(`python benchmarks/static_bars.py {given}`):\n\n" + table(["set", "tunes", "final bar one note", *places], rows))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
