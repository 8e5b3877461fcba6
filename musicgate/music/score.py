"""music21 streams to and from :class:`~musicgate.music.notes.Notes`, and MusicXML export.

``music21`` objects never leave this module. Tied notes are merged; grace notes (no duration) are
skipped; each part becomes a track.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musicgate.errors import MidiError
from musicgate.files import atomic_path
from musicgate.music.keys import Key, parse_key
from musicgate.music.notes import Notes

_M21_MODES = {"major": "major", "minor": "minor", "dorian": "dorian", "phrygian": "phrygian",
              "lydian": "lydian", "mixolydian": "mixolydian", "locrian": "locrian",
              "ionian": "major", "aeolian": "minor"}


def key_from_music21(k) -> Key | None:
    """A :class:`Key` from a music21 ``Key`` or ``KeySignature`` (major when it has no mode)."""
    from music21 import key as m21key

    if isinstance(k, m21key.Key):
        mode = _M21_MODES.get(str(k.mode).lower(), "major")
        return Key(k.tonic.pitchClass, mode)
    if isinstance(k, m21key.KeySignature):
        return Key.from_signature(k.sharps, False)
    return None


def from_music21(stream) -> Notes:
    """Notes from a music21 Score, Part or Stream (offsets and durations in quarter notes = beats)."""
    from music21 import chord, key, meter, stream as m21stream, tempo

    parts = list(stream.parts) if isinstance(stream, m21stream.Score) and stream.parts else [stream]
    cols: dict[str, list] = {k: [] for k in ("pitch", "onset", "duration", "velocity", "track")}
    for index, part in enumerate(parts):
        flat = part.stripTies().flatten()
        for el in flat.notes:
            dur = float(el.quarterLength)
            if dur <= 0:  # grace note
                continue
            pitches = el.pitches if isinstance(el, chord.Chord) else [el.pitch]
            vel = el.volume.velocity if el.volume.velocity is not None else 80
            for p in pitches:
                cols["pitch"].append(p.midi)
                cols["onset"].append(float(el.offset))
                cols["duration"].append(dur)
                cols["velocity"].append(vel)
                cols["track"].append(index)
    flat_all = stream.flatten()
    keys = []
    for k in flat_all.getElementsByClass((key.Key, key.KeySignature)):
        parsed = key_from_music21(k)
        if parsed is not None and all(b != float(k.offset) for b, _ in keys):
            keys.append((float(k.offset), parsed))
    meters = []
    for ts in flat_all.getElementsByClass(meter.TimeSignature):
        if all(b != float(ts.offset) for b, _, _ in meters):
            meters.append((float(ts.offset), ts.numerator, ts.denominator))
    tempos = [(float(t.offset), float(t.getQuarterBPM())) for t in flat_all.getElementsByClass(tempo.MetronomeMark)
              if t.getQuarterBPM()]
    return Notes.from_arrays(cols["pitch"], cols["onset"], cols["duration"], cols["velocity"],
                             track=cols["track"], tempos=sorted(dict(tempos).items()) or None,
                             keys=sorted(keys, key=lambda x: x[0]), meters=sorted(meters))


def to_music21(notes: Notes):
    """A music21 Score: one Part per track, with key signature (mode included), meter and tempo."""
    from music21 import chord, key, meter, note, stream, tempo

    score = stream.Score()
    tracks = np.unique(notes.track) if len(notes) else np.array([0])
    for trk in tracks:
        part = stream.Part()
        for beat, k in notes.keys:
            part.insert(beat, key.Key(k.tonic_name.replace("b", "-"), k.mode))
        for beat, num, den in notes.meters:
            part.insert(beat, meter.TimeSignature(f"{num}/{den}"))
        if trk == tracks[0]:
            for beat, qpm in notes.tempos:
                part.insert(float(beat), tempo.MetronomeMark(number=float(qpm)))
        sel = notes.track == trk
        on, du, pi, ve = notes.onset[sel], notes.duration[sel], notes.pitch[sel], notes.velocity[sel]
        groups: dict[tuple[float, float], list[int]] = {}
        for i in range(len(on)):
            groups.setdefault((float(on[i]), float(du[i])), []).append(i)
        for (o, d), idx in groups.items():
            el = note.Note(int(pi[idx[0]])) if len(idx) == 1 else chord.Chord([int(pi[i]) for i in idx])
            el.quarterLength = d
            el.volume.velocity = int(ve[idx[0]])
            part.insert(o, el)
        score.insert(0, part)
    if notes.bars and notes.meter:
        score = _with_form(score, notes)
    return score


def _with_form(score, notes: Notes):
    """Measures on the first meter's grid, a pickup as an incomplete first measure, and repeat
    barlines, first/second endings and double bars where ``notes.bars`` has them (a mark that falls
    inside a measure goes to the nearest measure line)."""
    from music21 import bar, spanner

    score = score.makeNotation()
    bar_len = 4 * notes.meter[0] / notes.meter[1]
    first = next((b for b, _ in notes.bars if b > 0), None)
    start = float(notes.onset.min()) if len(notes) else 0.0
    pickup = start if first is not None and abs(first - bar_len) < 1e-9 and 0 < start < bar_len else 0.0
    marks = [(b, k) for b, k in notes.bars if k != "|"]
    for part in score.parts:
        measures = list(part.getElementsByClass("Measure"))
        if not measures:
            continue
        if pickup > 0:  # the silence before the pickup is not music: an incomplete first measure
            m1 = measures[0]
            for r in list(m1.notesAndRests):
                if r.isRest and r.offset + r.quarterLength <= pickup + 1e-9:
                    m1.remove(r)
            for el in m1.notesAndRests:
                el.offset -= pickup
            m1.paddingLeft = pickup
        starts = [float(m.offset) + (pickup if i == 0 else 0.0) for i, m in enumerate(measures)]
        nearest = lambda b: int(np.argmin([abs(s - b) for s in starts + [starts[-1] + bar_len]]))  # noqa: E731
        ending_at: dict[int, int] = {}
        for b, kind in marks:
            i = nearest(b)
            if kind == "|:" and i < len(measures):
                measures[i].leftBarline = bar.Repeat(direction="start")
            elif kind in (":|", "||") and i > 0:
                measures[i - 1].rightBarline = (bar.Repeat(direction="end") if kind == ":|"
                                                else bar.Barline("light-light"))
            elif kind in ("|1", "|2") and i < len(measures):
                ending_at[i] = int(kind[1])
        for i, number in ending_at.items():  # an ending runs to the next repeat sign or mark, one bar at least
            stop = next((nearest(b) for b, _ in marks if nearest(b) > i), i + 1)
            part.insert(0, spanner.RepeatBracket(measures[i:max(stop, i + 1)], number=number))
    return score


def write_musicxml(notes: Notes, path: "str | os.PathLike") -> Path:
    """Write sheet music (MusicXML) with the key signature, the pickup as an incomplete first measure,
    and repeat barlines and first/second endings as written (``notes.bars``); atomic. Returns the path."""
    from musicgate.music.midi import check_span

    path = Path(path)
    check_span(notes, str(path), "MusicXML (one measure per bar, empty ones too)")
    try:
        with atomic_path(path) as tmp:
            to_music21(notes).write("musicxml", fp=str(tmp.with_suffix(".musicxml")))
            os.replace(tmp.with_suffix(".musicxml"), tmp)
    except Exception as exc:  # music21 raises many kinds of errors on odd notation
        raise MidiError(f"{path}: cannot write MusicXML ({exc})") from None
    return path


def key_label(stream) -> Key | None:
    """The key of a music21 stream: its first ``Key`` (with mode) or key signature, or None."""
    from music21 import key

    found = stream.flatten().getElementsByClass((key.Key, key.KeySignature))
    return key_from_music21(found[0]) if len(found) else None


__all__ = ["from_music21", "to_music21", "write_musicxml", "key_label", "key_from_music21", "parse_key"]
