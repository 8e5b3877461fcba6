"""Notes to ABC notation: a tune as folk musicians write, read and share it.

:func:`to_abc` writes one melody in the *written* form of :class:`~musicgate.music.notes.Notes`: the
bar lines, repeat signs, first and second endings and part ends of ``notes.bars`` (or a bar line
every bar of the time signature when there are none), the pickup as the tune's first notes, the key
in its ABC name (``K:Ador``, ``K:Dmix``), notes spelled in that key's signature with accidentals
only where a note leaves it (an accidental holds to the end of its bar; a sign is written wherever
readers that hold it for its octave, as ABC 2.1 says, and readers that hold it for the letter in
every octave, as music21 does, would read different pitches), triplets as ``(3``, and a note that crosses a bar line split
there with a tie; the tune ends on a final bar line. The unit note length follows the ABC
standard's default (``L:1/16`` below a meter of 3/4, else ``L:1/8``); onsets and lengths are first
rounded to a twelfth of a beat (sixteenths and triplets), the tokenizer's grid. A key or meter
change is a ``K:`` or ``M:`` line in the body (music21 does not read inline ``[K:G]``).
:func:`musicgate.music.abc.read_abc` reads the text back to the same notes, bar lines, key, meter
and tempo (``tests/test_abcwrite.py`` checks this as a property, and on the folk corpus's tunes).

Locrian keys are written as the standard says (``K:Bloc``), but music21 reads them as major, so such a
tune does not read back; the folk corpus has none. One line of melody: notes that start together with the same length are written as a chord
(``[DFA]``); notes that overlap otherwise are refused with a :class:`~musicgate.errors.MidiError`
(MusicXML writes any texture).
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from musicgate.errors import MidiError
from musicgate.music.keys import Key
from musicgate.music.notes import Notes

GRID = 12
"""Steps per beat that onsets and lengths are rounded to before writing (sixteenths and triplets)."""

_MODE_ABC = {"major": "", "minor": "m", "dorian": "dor", "phrygian": "phr", "lydian": "lyd",
             "mixolydian": "mix", "locrian": "loc"}
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_ORDER, _FLAT_ORDER = "FCGDAEB", "BEADGCF"
_SIGN = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}
_LINE_AFTER = {":|", "||"}
"""A new line of ABC starts after a repeat end or a part end (and every 4 bars within a part)."""


def abc_key(key: Key) -> str:
    """A key as an ABC ``K:`` field value: ``D``, ``Em``, ``Ador``, ``Dmix``, ``Bb``, ``F#m``."""
    return key.tonic_name + _MODE_ABC[key.mode]


def _signature(key: Key) -> dict[str, int]:
    """Each letter's accidental under ``key``'s signature (+1 sharp, -1 flat, 0 natural)."""
    n = key.signature
    letters = _SHARP_ORDER[:n] if n > 0 else _FLAT_ORDER[:-n]
    return {c: (1 if n > 0 else -1) if c in letters else 0 for c in _NATURAL}


def _spell(pitch: int, sig: dict[str, int], sharps: bool) -> tuple[str, int, int]:
    """(letter, accidental, octave) of a MIDI pitch: the key's own letter when the pitch is in its
    signature, else a natural sign, else a sharp (sharp and natural keys) or a flat (flat keys)."""
    pc = pitch % 12
    options = [(c, a) for c in _NATURAL for a in (-1, 0, 1) if (_NATURAL[c] + a) % 12 == pc]
    in_key = [(c, a) for c, a in options if sig[c] == a]
    letter, acc = min(in_key or options, key=lambda ca: (ca[1] != 0, ca[1] != (1 if sharps else -1)))
    octave = (pitch - _NATURAL[letter] - acc) // 12 - 1  # B#3 is C4's pitch; Cb5 is B4's
    return letter, acc, octave


def _pitch_text(letter: str, octave: int) -> str:
    """ABC letter and octave marks: C is middle C (MIDI 60), c the octave above, C, and c' beyond."""
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def _length_text(units: Fraction) -> str:
    """A length in unit notes as ABC writes it: '' (one), '2', '3/2', '/' (a half), '/4', '2/3'."""
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    if units.numerator == 1:
        return "/" if units.denominator == 2 else f"/{units.denominator}"
    return f"{units.numerator}/{units.denominator}"


def _bar_text(kinds: list[str]) -> str:
    """The ABC of the bar-line kinds that stand at one place, in the order read_abc reads them back."""
    kinds = list(dict.fromkeys(kinds))
    text = {":|": ":|", "||": "||", "|:": "|:", "|1": "[1", "|2": "[2", "|": "|"}
    if kinds[:2] == [":|", "|2"]:
        return ":|2" + "".join(f" {text[k]}" for k in kinds[2:])
    if kinds and kinds[0] in ("|1", "|2"):
        return "|" + kinds[0][1] + "".join(f" {text[k]}" for k in kinds[1:])
    return " ".join(text[k] for k in sorted(kinds, key=lambda k: k == "|:"))  # ':| |:', not '::' (music21
    # loses the note before a '::' that follows it without a space)


def _groups(notes: Notes, name: str) -> list[tuple[Fraction, Fraction, list[int]]]:
    """(onset, length, pitches) in beats, one per onset; MidiError where notes overlap."""
    out: list[tuple[Fraction, Fraction, list[int]]] = []
    for p, o, d in zip(notes.pitch.tolist(), notes.onset.tolist(), notes.duration.tolist()):
        on, du = Fraction(round(o * GRID), GRID), Fraction(max(round(d * GRID), 1), GRID)
        if out and out[-1][0] == on and out[-1][1] == du:
            out[-1][2].append(p)  # a chord (a unison is written twice, as it was played)
            continue
        if out and on < out[-1][0] + out[-1][1]:
            raise MidiError(f"{name}: ABC is written here as one line of melody, and notes overlap at beat "
                            f"{float(on):g} (pitches {out[-1][2][0]} and {p}); write MusicXML (.musicxml) instead")
        out.append((on, du, [p]))
    return out


def _bar_lines(notes: Notes, bar: Fraction | None, end: Fraction, start: Fraction) -> dict[Fraction, list[str]]:
    """Bar lines by place: ``notes.bars`` as written, else one every bar of the meter (none at the start,
    a part end at the end)."""
    if notes.bars:
        lines: dict[Fraction, list[str]] = {}
        for b, kind in notes.bars:
            lines.setdefault(Fraction(round(b * GRID), GRID), []).append(kind)
        return lines
    if bar is None:
        return {}
    first = bar if 0 < start < bar else Fraction(0)
    count = max(-((first - end) // bar), 0 if first else 1)  # ceil((end - first) / bar): bars after the first line
    lines = {first + i * bar: ["|"] for i in range(count + 1) if first + i * bar > start}
    lines[first + count * bar] = ["||"]  # the end of the last bar (rests fill what the notes leave of it)
    return lines


def _pickup_start(notes: Notes, lines: dict[Fraction, list[str]], bar: Fraction | None) -> Fraction:
    """Where the written music starts: at the last bar line before the first note, if there is one;
    else the first note when what comes before the first bar line is shorter than a bar (a pickup);
    else beat 0 (silence before the first note is then rests)."""
    if not len(notes):
        return Fraction(0)
    first_on = Fraction(round(float(notes.onset.min()) * GRID), GRID)
    before = [b for b in lines if b <= first_on]
    if before:
        return max(before)
    first_line = min((b for b in lines if b > first_on), default=None)
    if bar is not None and first_line is not None and first_on > 0 and first_line - first_on < bar:
        return first_on
    return Fraction(0)


def _split(a: Fraction, c: Fraction, pitches: list[int] | None, cuts: list[Fraction]) -> list[tuple]:
    """The span [a, c) cut at ``cuts`` inside it: (onset, length, pitches, tied on) pieces."""
    if c <= a:
        return []
    points = [a, *(x for x in cuts if a < x < c), c]
    return [(x, y - x, pitches, pitches is not None and y < c) for x, y in zip(points, points[1:])]


def _events(groups: list, start: Fraction, end: Fraction, cuts: list[Fraction]) -> list[tuple]:
    """The notes, chords and rests from ``start`` to ``end``, cut at bar lines and key or meter changes:
    (onset, length, pitches or None, tied on) each."""
    events, t = [], start
    for on, du, ps in groups:
        events += _split(t, on, None, cuts) + _split(on, on + du, ps, cuts)
        t = on + du
    return events + _split(t, end, None, cuts)


def _beam(meter: tuple[int, int] | None) -> Fraction:
    """Beats per beamed group: a dotted quarter in 6/8, 9/8, 12/8 (and 3/8 bars), a half note in 4/4
    and 2/2, else a beat."""
    if meter is None:
        return Fraction(1)
    n, d = meter
    if d == 8 and n % 3 == 0:
        return Fraction(3, 2)
    return Fraction(2) if (n, d) in ((4, 4), (2, 2)) else Fraction(1)


def to_abc(notes: Notes, *, title: str = "", number: int = 1, comment: str = "", name: str = "",
           rhythm: str = "") -> str:
    """One tune in ABC notation (see the module notes): the header, then up to four bars, or what is
    left of a part, per line.

    Parameters
    ----------
    notes : Notes
        A melody in its written form (as decoded from tokens or read from ABC).
    title : str
        The ``T:`` field (left out when empty).
    number : int
        The ``X:`` reference number.
    comment : str
        An ``N:`` note (left out when empty), e.g. how the tune was made.
    name : str
        What error messages call the music (default: the title, else "notes").
    rhythm : str
        The ``R:`` field, the tune's dance (``jig``; left out when empty).

    Raises
    ------
    MidiError
        When notes overlap other than as a chord (``to_abc`` writes one line of melody).
    """
    step = lambda x: Fraction(round(float(x) * GRID), GRID)  # noqa: E731
    groups = _groups(notes, name or title or "notes")
    meters = [(step(b), n, d) for b, n, d in notes.meters]
    keys = [(step(b), k) for b, k in notes.keys]
    meter = next(((n, d) for b, n, d in meters if b == 0), None)
    key = next((k for b, k in keys if b == 0), Key(0, "major"))
    bar = Fraction(4 * meter[0], meter[1]) if meter else None
    unit = Fraction(1, 4) if meter and Fraction(*meter) < Fraction(3, 4) else Fraction(1, 2)  # in beats
    end = max((o + d for o, d, _ in groups), default=Fraction(0))
    lines = _bar_lines(notes, bar, end, groups[0][0] if groups else Fraction(0))
    start = _pickup_start(notes, lines, bar)
    end = max(end, *lines) if lines else end
    changes: dict[Fraction, list[tuple[str, object]]] = {}
    for b, n, d in meters:
        if b > 0:
            changes.setdefault(b, []).append((f"\nM:{n}/{d}\n", None))
    for b, k in keys:
        if b > 0:
            changes.setdefault(b, []).append((f"\nK:{abc_key(k)}\n", k))
    cuts = sorted({b for b in lines if start < b < end} | {b for b in changes if start < b < end})
    events = _events(groups, start, end, cuts)
    fields = {"X": str(int(number)), "T": title, "R": rhythm, "N": comment,
              "M": f"{meter[0]}/{meter[1]}" if meter else "none", "L": str(unit / 4),
              "Q": f"1/4={round(float(notes.tempos[0][1]))}", "K": abc_key(key)}
    fields = {f: " ".join(str(v).split()) for f, v in fields.items()}  # one line each
    header = [f"{f}:{v}" for f, v in fields.items() if v]  # no empty T:, R: or N:
    out = [_bar_text(lines[b]) for b in sorted(lines) if b <= start]
    sig, sharps, held = _signature(key), key.signature >= 0, {}
    after = [b for b in sorted(lines) if b > start]
    beam, bars_on_line, i, last = _beam(meter), 0, 0, start  # last: the onset of the last note or rest written
    bar_start = after[0] - bar if bar is not None and after else start   # a pickup's bar starts before it
    while i < len(events):
        onset, length, pitches, tied = events[i]
        if onset in lines and onset > start:
            kinds, text = lines[onset], _bar_text(lines[onset])
            held, bar_start, bars_on_line = {}, onset, bars_on_line + 1
            if set(kinds) & {"|1", "|2"}:
                out.append(text + " ")              # an ending starts: stay on the line
            elif set(kinds) & _LINE_AFTER or bars_on_line >= 4:
                opens = text.endswith(" |:")        # '|| |:' breaks before the repeat start
                out.append(text[:-3] + "\n|:" if opens else text + "\n")
                bars_on_line = 0
            else:
                out.append(text)
        for text, new_key in changes.get(onset, ()):
            out.append(text)
            if new_key is not None:
                sig, sharps = _signature(new_key), new_key.signature >= 0
        group = (onset - bar_start) // beam  # a new beam group, or a note a beat long or more: a space
        if last < bar_start or (last - bar_start) // beam != group or length >= 1:
            out.append(" ")
        if _triplet(events, i, lines, changes, bar_start):
            out.append("(3" + "".join(_note_text(e[2], e[1] * Fraction(3, 2) / unit, sig, sharps, held, False)
                                      for e in events[i:i + 3]))
            last, i = events[i + 2][0], i + 3
            continue
        out.append(_note_text(pitches, length / unit, sig, sharps, held, tied))
        last, i = onset, i + 1
    if end in lines and end > start:
        out.append(_bar_text(lines[end]) if lines[end] != ["||"] else "|]")
    elif events:
        out.append("|]")  # the end of the tune: a final bar line (read back as a part end)
    body = [" ".join(line.split()) for line in "".join(out).split("\n")]
    return "\n".join(header + [line for line in body if line]) + "\n"


def _triplet(events: list[tuple], i: int, lines: dict, changes: dict, bar_start: Fraction) -> bool:
    """Whether events i..i+2 are a triplet of equal notes (each 2/3 of a power-of-two length) on its beat
    (a multiple of its span from the start of the bar)."""
    if i + 3 > len(events):
        return False
    three = events[i:i + 3]
    d = three[0][1]
    plain = d * Fraction(3, 2)
    if any(e[1] != d for e in three) or plain.numerator != 1 and plain.denominator != 1:
        return False
    if (plain.numerator & (plain.numerator - 1)) or (plain.denominator & (plain.denominator - 1)):
        return False
    if (three[0][0] - bar_start) % (2 * plain) != 0 or any(e[3] for e in three):
        return False
    return not any(e[0] in lines or e[0] in changes for e in three[1:])


def _note_text(pitches: list[int] | None, units: Fraction, sig: dict[str, int], sharps: bool,
               held: dict, tied: bool) -> str:
    """One note, chord or rest with its length (and a tie when it goes on past the next bar line)."""
    if pitches is None:
        return "z" + _length_text(units)
    parts = []
    for p in sorted(pitches):
        letter, acc, octave = _spell(p, sig, sharps)
        # what a reader takes without a sign: the bar's last sign on this letter and octave (ABC 2.1), or
        # on this letter in any octave (music21); a sign is written unless both give the pitch
        if acc != held.get((letter, octave), sig[letter]) or acc != held.get(letter, sig[letter]):
            held[letter] = held[(letter, octave)] = acc
            parts.append(_SIGN[acc] + _pitch_text(letter, octave))
        else:
            parts.append(_pitch_text(letter, octave))
    return (parts[0] if len(parts) == 1 else "[" + "".join(parts) + "]") + _length_text(units) + ("-" if tied else "")


def write_abc(notes_list: "Notes | list[Notes]", path: "str | os.PathLike", *, titles: list[str] | None = None,
              comment: str = "", name: str | None = None, rhythm: str = "") -> Path:
    """Write one or more tunes (X:1, X:2 ...) to an ABC file atomically (``name``: what error messages
    call it, default the path). Returns the path.

    Raises
    ------
    MidiError
        As :func:`to_abc`, or when the file cannot be written.
    """
    from musicgate.files import atomic_write_text

    tunes = [notes_list] if isinstance(notes_list, Notes) else list(notes_list)
    titles = titles or [""] * len(tunes)
    text = "\n".join(to_abc(n, title=t, number=i + 1, comment=comment, name=name or str(path), rhythm=rhythm)
                     for i, (n, t) in enumerate(zip(tunes, titles)))
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        raise MidiError(f"{path}: cannot write the ABC file ({exc}); check that its folder is writable") from None


__all__ = ["to_abc", "write_abc", "abc_key"]
