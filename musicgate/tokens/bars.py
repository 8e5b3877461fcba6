"""Bar lines of the melody vocabulary: where they fall, the pickup, ties at bar lines, bar fill.

Everything here counts time in integer grid steps. The rules (see :class:`~musicgate.tokens.tokenizer.
MelodyTokenizer`, ``form=True``):

* **Where bar lines fall.** Notes that carry written bar lines (``Notes.bars``, e.g. from ABC) keep
  them; a written bar longer than the meter's bar gets plain bar lines every bar from its start (ABC
  files often leave out the bar line at a line break). Notes without written bar lines (MIDI files,
  generated tunes) get a bar line every bar of the first time signature from beat 0 (4/4 without
  one), as a MIDI file's own bar grid; the line at beat 0 is left out when the first note starts
  inside the first bar (a pickup). The tokens carry one METER, so a later time signature does not
  move bar lines: :func:`musicgate.data.corpora.prepare` rejects melodies whose meter changes.
* **Pickups.** When the music before the first bar line is shorter than a bar (of the header's
  meter), it is a pickup: it is placed so that the first bar line falls one bar after beat 0, and the
  tokens start with the pickup's first note (no REST for the silence before it). Decoding places the
  music before the first bar line the same way.
* **Ties.** A note that crosses a bar line is split there; the part after the line is a ``TIE`` token
  (it stands where a PITCH would) with its DUR, so every bar's tokens fill the bar exactly and no DUR
  overruns a bar line. Decoding joins a TIE to the note before it.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from musicgate.errors import TokenizerError
from musicgate.music.notes import final_repeat_closed

FORM_TOKENS = {"|:": "REPEAT_START", ":|": "REPEAT_END", "|1": "ENDING_1", "|2": "ENDING_2", "||": "PART_END"}
"""Bar-line kinds (:data:`~musicgate.music.notes.BAR_KINDS`) and the token that stands for each; a plain
``|`` is ``BAR``. A form token stands where a bar line stands, instead of the BAR."""

MAX_LINES = 2_000_000
"""Most bar lines a tune may have; more means absurd timing."""


def normal_lines(lines: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """Bar lines by position (stable), without a plain one where a form mark stands, without repeats."""
    lines = sorted(lines, key=lambda m: m[0])
    marked = {p for p, k in lines if k != "|"}
    return list(dict.fromkeys((p, k) for p, k in lines if k != "|" or p not in marked))


def meter_grid(bar: int, first_on: int, end: int) -> list[int]:
    """Bar-line positions every ``bar`` steps from 0 up to ``end`` (inclusive); no line at 0 when
    ``first_on`` lies inside the first bar."""
    if end // bar > MAX_LINES:
        raise TokenizerError(f"the music would have over {MAX_LINES:,} bars; the timing is absurd")
    return list(range(bar if 0 < first_on < bar else 0, end + 1, bar))


def place(written: list[tuple[int, str]] | None, header_bar: int, on: np.ndarray,
          du: np.ndarray) -> tuple[list[tuple[int, str]], int]:
    """(bar lines, shift): the lines the tokens carry, and the steps to move the notes (and lines) by
    so that a pickup ends one bar after 0. ``written`` None: a line every ``header_bar`` steps."""
    end = int(on[-1] + du[-1]) if len(on) else 0
    last = int(on.max()) if len(on) else None   # a |: after the last note is the final bar line
    written = normal_lines(final_repeat_closed(((p, k) for p, k in written or () if p >= 0), last))
    if written:
        lines = written
    else:
        lines = [(p, "|") for p in meter_grid(header_bar, int(on[0]), end)] if len(on) else []
    if not lines:
        return [], 0
    s = min(int(on[0]) if len(on) else lines[0][0], lines[0][0])
    f = next((p for p, _ in lines if p > s), None)
    if f is not None and f - s < header_bar:
        shift = header_bar - f  # a pickup
    elif 0 < s < header_bar and lines[0][0] == s:
        shift = -s  # only silence before the first bar line: dropped, or it would read as a pickup
    else:
        shift = 0
    if shift:
        lines = [(p + shift, k) for p, k in lines]
    if written:  # a written bar longer than its meter's bar: lines every bar from its start
        end = max(end + shift, lines[-1][0])
        starts = sorted({p for p, _ in lines})
        spans = list(zip(starts, starts[1:] + [end]))
        if f is None or f - s >= header_bar:
            spans.insert(0, (s + shift, starts[0]))
        added = []
        for a, c in spans:
            if (c - a) // header_bar + len(added) > MAX_LINES:
                raise TokenizerError(f"the music would have over {MAX_LINES:,} bars; the timing is absurd")
            added += [(p, "|") for p in range(a + header_bar, c, header_bar)]
        if added:
            lines = normal_lines(lines + added)
    return lines, shift


def start_step(lines: list[tuple[int, str]], on: np.ndarray, header_bar: int) -> int:
    """Where the tokens start: the first event when the music before the first bar line is a pickup
    (shorter than a bar), else beat 0 (silence before the first note is then written as rests)."""
    if not lines:
        return 0
    s = min(int(on[0]) if len(on) else lines[0][0], lines[0][0])
    f = next((p for p, _ in lines if p > s), None)
    return s if f is not None and f - s < header_bar else 0


def bar_fill(lines: list[tuple[int, str]], end: int, bar: int) -> tuple[int, int]:
    """(bars that fill ``bar`` steps exactly, bars counted) between bar lines, the pickup and the final
    bar left out. A short bar that ends at a form mark (repeat sign, ending, part end) and the short bar
    after it count as one bar when together they fill a bar: a part's last bar and the next part's
    pickup."""
    pos: dict[int, bool] = {}
    for p, k in lines:
        pos[p] = pos.get(p, False) or k != "|"
    starts = sorted(pos)
    lengths = [c - a for a, c in zip(starts, starts[1:])]
    if lengths and end <= starts[-1]:
        lengths = lengths[:-1]  # the final bar ends at the last line
    full = counted = i = 0
    while i < len(lengths):
        n = lengths[i]
        if n < bar and pos[starts[i + 1]] and i + 1 < len(lengths) and n + lengths[i + 1] == bar:
            i += 1
            n = bar
        full += n == bar
        counted += 1
        i += 1
    return full, counted
