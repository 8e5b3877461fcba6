"""ABC tunes to :class:`~musicgate.music.notes.Notes`, fast.

music21 reads ABC in two steps: its ``ABCHandler`` tokenizes the text and resolves every note's
pitch (key signature, accidentals carried through the bar as ABC 2.1 says) and length (``L:``,
broken rhythm), in ~1.5 ms a folk tune; then it builds a ``Score`` of measures, beams and clefs,
which costs ~40 ms more and which a token dataset never needs. :func:`read_abc` keeps music21's
first step, so every pitch and length is music21's own, and replaces the second with a walk over
the tokens: tuplets scale lengths, a tie joins two notes of the same letter and octave into one
(the first note's accidental carries across the bar line), grace notes and chord symbols take no
time, chords keep every pitch, each voice (``V:``) becomes a track, ``M:`` fields are kept as
written. ``python benchmarks/abc_reader.py`` compares the result with
:func:`musicgate.music.score.from_music21` of music21's score on the 11,582 folk tunes: pitches, onsets
and durations agree on 98.3% of them. In each of the rest musicgate has more notes, because
music21's score merges a tie between different letters (a slur written ``d-c``) into one note, or
loses notes after a quoted annotation such as ``">"``; musicgate keeps them. music21 also re-bars
irregular measures with invented time signatures, which musicgate does not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from musicgate.errors import MidiError
from musicgate.music.keys import Key
from musicgate.music.notes import Notes, final_repeat_closed

_BAR_KIND = {"|:": "|:", ":|": ":|", "[1": "|1", "[2": "|2", "|1": "|1", "|2": "|2", "||": "||", "|]": "||",
             "[|": "||"}
"""music21's bar tokens (after its ``barlineTokenFilter``: ``::`` is ``:|`` then ``|:``, ``:|2`` is ``:|``
then ``[2``) to the kinds of :data:`~musicgate.music.notes.BAR_KINDS`; any other bar line is plain."""

VELOCITY = 80
"""music21 gives ABC notes no velocity; :func:`~musicgate.music.score.from_music21` uses 80."""


@dataclass
class AbcTune:
    """What :func:`read_abc` returns: the notes and the tune's title (``T:``)."""

    notes: Notes
    title: str
    pickup_shift: float = 0.0
    """Beats the tune was moved by to place its pickup (0 when it starts with a whole bar)."""


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC file, each from its ``X:`` line (the file header before the first is dropped)."""
    return [t for t in re.split(r"^(?=X:)", text, flags=re.M)[1:] if t.strip()]


@lru_cache(maxsize=512)
def _midi(pitch_name: str) -> int:
    from music21 import pitch

    return pitch.Pitch(pitch_name).midi


def _written(pitch_name: str) -> str:
    """Letter and octave of a music21 pitch name: 'B-4' -> 'B4'."""
    return pitch_name[0] + pitch_name.lstrip("ABCDEFG#-n~")


def _length(token) -> Fraction:
    ql = Fraction(token.quarterLength).limit_denominator(1 << 16)
    if token.activeTuplet is not None:
        ql *= Fraction(token.activeTuplet.tupletMultiplier()).limit_denominator(1 << 16)
    return ql


def _walk(tokens, track: int, cols: dict[str, list], meta: dict[str, list]) -> None:
    """Append one voice's notes (and its key, meter and tempo marks) to ``cols`` / ``meta``."""
    from music21 import abcFormat as abc

    from musicgate.music.score import key_from_music21

    now, held = Fraction(0), None  # held: (index, letter and octave) of a note whose tie has not stopped
    transpose, first = 0, len(cols["pitch"])
    for t in tokens:
        if isinstance(t, abc.ABCMetadata):
            if t.isKey():
                ks = t.getKeySignatureObject()
                if ks is not None:
                    meta["keys"].append((now, key_from_music21(ks)))
                _, shift = t.getClefObject()
                transpose = shift if shift is not None else transpose
            elif t.isMeter():
                ts = t.getTimeSignatureObject()
                if ts is not None:
                    meta["meters"].append((now, ts.numerator, ts.denominator))
            elif t.isTempo():
                mm = t.getMetronomeMarkObject()
                if mm is not None and mm.getQuarterBPM():
                    meta["tempos"].append((now, float(mm.getQuarterBPM())))
            continue
        if isinstance(t, abc.ABCBar):
            if track == 0:  # the first voice's bar lines
                meta["bars"].append((now, _BAR_KIND.get(t.src.strip(), "|")))
            continue
        if not isinstance(t, abc.ABCNote) or t.inGrace:
            continue
        ql = _length(t)
        if isinstance(t, abc.ABCChord):
            names = [s.pitchName for s in t.subTokens if isinstance(s, abc.ABCNote) and not s.isRest]
            held = None  # music21 ties single notes only
        else:
            names = [] if t.isRest else [t.pitchName]
        for name in names:
            written = _written(name)
            if (held is not None and t.tie in ("stop", "continue") and held[1] == written
                    and cols["onset"][held[0]] + cols["duration"][held[0]] == now):
                i = held[0]  # a tie to the same written note: one longer note, with the first's
                cols["duration"][i] += ql  # accidental (it carries across the bar line)
            else:
                i = len(cols["pitch"])
                for k, v in zip(("pitch", "onset", "duration", "track"), (_midi(name), now, ql, track)):
                    cols[k].append(v)
            held = (i, written) if t.tie in ("start", "continue") and len(names) == 1 else None
        if ql > 0:
            now += ql
    if transpose:
        cols["pitch"][first:] = [p + transpose for p in cols["pitch"][first:]]


def read_abc(text: str, *, name: str = "<abc>") -> AbcTune:
    """Read one ABC tune (``X:`` to the end of the tune) into Notes, with music21's tokenizer.

    Raises
    ------
    MidiError
        If music21 cannot tokenize the text.
    """
    from music21 import abcFormat as abc

    handler = abc.ABCHandler(abcVersion=(2, 1, 0))
    cols: dict[str, list] = {k: [] for k in ("pitch", "onset", "duration", "track")}
    meta: dict[str, list] = {"keys": [], "meters": [], "tempos": [], "bars": []}
    try:
        handler.process("%abc-2.1\n" + text)  # ABC 2.1: accidentals carry through the bar
        voices = handler.splitByVoice()
        parts = [voices[0]] if len(voices) == 1 else [voices[0] + v for v in voices[1:]]
        for track, part in enumerate(parts):
            _walk(part.tokens, track, cols, meta)
        bars = meta["bars"]
    except Exception as exc:  # music21 raises many kinds of errors on bad input, here and in its tokens
        raise MidiError(f"{name}: music21 cannot parse it ({type(exc).__name__})") from None
    title = next((t.data for t in handler.tokens if isinstance(t, abc.ABCMetadata) and t.isTitle()), "")
    first = lambda marks: sorted({m[0]: m for m in reversed(marks)}.values(), key=lambda m: m[0])  # noqa: E731
    keys = tuple((float(b), k) for b, k in first(meta["keys"]) if isinstance(k, Key))
    meters = tuple((float(b), n, d) for b, n, d in first(meta["meters"]))
    tempos = sorted({float(b): q for b, q in meta["tempos"]}.items()) or None
    bars = final_repeat_closed(_plain_bars_dropped(bars), max(cols["onset"], default=None))
    shift = pickup_shift(bars, meters)
    at = lambda b: float(b + shift) if b > 0 else 0.0  # noqa: E731 (marks at the start stay at beat 0)
    notes = Notes.from_arrays(cols["pitch"], [float(x + shift) for x in cols["onset"]],
                              [float(x) for x in cols["duration"]], [VELOCITY] * len(cols["pitch"]),
                              track=cols["track"], keys=[(at(b), k) for b, k in keys],
                              meters=[(at(b), n, d) for b, n, d in meters],
                              tempos=[(at(b), q) for b, q in tempos] if tempos else None,
                              bars=[(float(b + shift), k) for b, k in bars])
    return AbcTune(notes, title, float(shift))


def _plain_bars_dropped(bars: list) -> list:
    """Bar lines in order, without a plain one where a repeat sign or ending stands, without repeats."""
    marked = {b for b, k in bars if k != "|"}
    return list(dict.fromkeys((b, k) for b, k in bars if k != "|" or b not in marked))


def pickup_shift(bars: list, meters: tuple) -> Fraction:
    """Beats to move a tune by so that its first bar line falls one bar after beat 0: a pickup
    (anacrusis) shorter than a bar then starts at bar length - pickup length, as in MIDI files.
    0 when the first bar is a whole bar or longer, or when there is no bar line or meter."""
    first = next((b for b, _ in bars if b > 0), None)
    if first is None or not meters or meters[0][0] != 0:
        return Fraction(0)
    bar = Fraction(4 * meters[0][1], meters[0][2])
    return bar - first if first < bar else Fraction(0)
