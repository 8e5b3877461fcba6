"""MIDI files and pretty_midi objects to and from :class:`~musicgate.music.notes.Notes`.

Files are parsed and written with symusic (C++, ~100x pretty_midi's speed); ``symusic.Score`` and
``pretty_midi.PrettyMIDI`` never leave this module.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musicgate.errors import MidiError
from musicgate.files import atomic_write_with
from musicgate.music.keys import Key
from musicgate.music.notes import DRUM_PROGRAM, Notes

TICKS_PER_BEAT = 480
"""Resolution of the MIDI files musicgate writes (divisible by 2, 3, 4, 5, 8, 12, 16, 32)."""
MAX_BEAT = 2.0**20
MAX_SPAN_BEATS = 2**15
"""Longest span (beats) that work proportional to the span (MusicXML measures, beat windows) accepts."""
MAX_AUDIO_SECONDS = 3600.0
"""Longest audio (seconds) that rendering accepts: an hour of 44.1 kHz stereo float32 is 635 MB."""


def check_span(notes: Notes, name: str, what: str, *, max_beats: float = MAX_SPAN_BEATS) -> None:
    """Raise MidiError when ``notes`` span more than ``max_beats`` beats: the work of ``what``
    grows with the span (not the notes), so a few notes far apart must not cost gigabytes."""
    if len(notes) and notes.end > max_beats:
        raise MidiError(f"{name}: the music spans {notes.end:,.0f} beats ({len(notes)} notes, the last at beat "
                        f"{float(notes.onset.max()):,.0f}); {what} is refused beyond {max_beats:,.0f} beats; "
                        "trim the file ('musicgate info' shows its length)")
"""Latest onset accepted when reading (about a week of music at 120 bpm); later notes are
an error, so an absurd tick value can never make later stages allocate gigabytes."""
MAX_TICK = 0x0FFFFFFF
"""Latest tick written: the largest delta time a MIDI variable-length quantity holds."""


_SYMUSIC_WORDS = (("File size is less than 14!", "shorter than a MIDI header (14 bytes)"),
                  ("Invaild midi file! ", ""), ("Invalid midi file! ", ""), ("File header is not MThd!", "it does not start with MThd"),
                  ("Invaild midi file!", "no MIDI header"), ("Invalid midi file!", "no MIDI header"))


def _our_words(reason: str) -> str:
    """symusic's error text (``Invaild midi file!``...) in musicgate's words."""
    for theirs, ours in _SYMUSIC_WORDS:
        reason = reason.replace(theirs, ours)
    return reason.strip() or "not MIDI"


def _score_from(source: "str | os.PathLike | bytes"):
    import symusic.core

    is_bytes = isinstance(source, (bytes, bytearray, memoryview))
    name = "<bytes>" if is_bytes else os.fspath(source)
    try:
        if is_bytes:
            data = bytes(source)
        else:
            with open(source, "rb", buffering=0) as fh:
                data = fh.readall()
        return symusic.core.ScoreTick.from_midi(data), name
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        from musicgate.files import require_file

        require_file(name, MidiError, "MIDI file")
        raise MidiError(f"{name}: cannot open the MIDI file") from None
    except Exception as exc:  # symusic raises RuntimeError for every malformed file
        reason = str(exc).replace("MiniMidi: ", "").replace(": iostream error", "")
        reason = _our_words(reason)
        raise MidiError(f"{name}: not a readable MIDI file ({reason}); check that the file is "
                        "complete and really MIDI") from None


def read_midi(source: "str | os.PathLike | bytes", *, drums: bool = False) -> Notes:
    """Read a MIDI file (path or bytes) into Notes.

    Parameters
    ----------
    source : path or bytes
        The MIDI file, or its content.
    drums : bool
        Keep drum tracks (their notes get ``program == -1``). Off by default.

    Raises
    ------
    MidiError
        If the file is missing, not MIDI, truncated, or has notes past :data:`MAX_BEAT`.
    """
    import symusic.core

    score, name = _score_from(source)
    tpq = score.ticks_per_quarter
    if tpq <= 0:
        raise MidiError(f"{name}: MIDI header has a non-positive resolution ({tpq:g} ticks per beat)")
    # Tracks are numbered among the kept ones, so write -> read keeps the numbers.
    kept = [t for t in score.tracks if (drums or not t.is_drum) and t.note_num()]
    every = symusic.core.NoteTickList()
    for track in kept:
        every.extend(track.notes)  # one array export for all tracks
    arr = every.numpy()
    counts = [t.note_num() for t in kept]
    program = np.repeat(np.array([DRUM_PROGRAM if t.is_drum else t.program for t in kept], np.int16), counts)
    track_no = np.repeat(np.arange(len(kept), dtype=np.int16), counts)
    time_, pitch = arr["time"].astype(np.int64), arr["pitch"].astype(np.int16)
    velocity = arr["velocity"].astype(np.int16)
    dur = np.maximum(arr["duration"], 0)
    if len(time_) and (time_.min() < 0 or time_.max() > MAX_BEAT * tpq):
        bad = time_[(time_ < 0) | (time_ > MAX_BEAT * tpq)][0] / tpq
        raise MidiError(f"{name}: a note starts at beat {bad:.0f}, outside 0..{MAX_BEAT:.0f}; "
                        "the file's tick values are corrupt")
    if len(pitch) and pitch.min() < 0:
        raise MidiError(f"{name}: a note has a pitch outside MIDI's 0-127")
    tempo_map: dict[float, float] = {}
    for tempo in score.tempos:  # in time order; of several changes at one beat, the last wins
        tempo_map[tempo.time / tpq] = 6e7 / max(tempo.mspq, 1)
    tempos = list(tempo_map.items())
    if tempos and tempos[0][0] > 0:
        tempos.insert(0, (0.0, tempos[0][1]))
    keys = tuple((ks.time / tpq, Key.from_signature(ks.key, bool(ks.tonality)))
                 for ks in score.key_signatures if -7 <= ks.key <= 7)
    meters = tuple((ts.time / tpq, ts.numerator, ts.denominator)
                   for ts in score.time_signatures if ts.numerator > 0 and ts.denominator > 0)
    return Notes._from_grid(pitch, time_, dur, velocity, program, track_no, tpq, tempos or None, keys, meters)


def _out_of_range(what: str, ticks_per_beat: int) -> MidiError:
    return MidiError(f"cannot write MIDI: {what}, outside the 0..{MAX_TICK // ticks_per_beat} beats a MIDI file "
                     f"holds at {ticks_per_beat} ticks per beat")


def _to_score(notes: Notes, ticks_per_beat: int):
    """A ``symusic.Score`` with one track per (track, program) group of notes."""
    from symusic import core  # the classes themselves: symusic's factories cost microseconds a call

    notes = notes.played()  # repeats and endings unrolled: a MIDI file holds the music as played
    if len(notes) and (notes.pitch.min() < 0 or notes.pitch.max() > 127):
        raise MidiError("cannot write MIDI: a pitch is outside 0-127")
    tpb = ticks_per_beat
    score = core.ScoreTick(tpb)
    tempos = notes.tempos.tolist()
    for beat, *_ in (*tempos, *notes.keys, *notes.meters):
        if not -0.5 <= beat * tpb < MAX_TICK + 0.5:  # rounds to 0..MAX_TICK; NaN fails too
            raise _out_of_range(f"a tempo, key or time signature at beat {beat:g}", tpb)
    for beat, qpm in tempos:
        score.tempos.append(core.TempoTick(round(beat * tpb), min(max(qpm, 6e7 / 0xFFFFFF), 6e7)))  # 24 bits
    for beat, key in notes.keys:
        score.key_signatures.append(core.KeySignatureTick(round(beat * tpb), key.signature, int(key.mode == "minor")))
    for beat, num, den in notes.meters:
        if not (0 < num < 256 and 0 < den < 256):
            raise MidiError(f"cannot write MIDI: a time signature of {num}/{den} does not fit a MIDI file")
        score.time_signatures.append(core.TimeSignatureTick(round(beat * tpb), num, den))
    on = np.rint(notes.onset * tpb)
    dur = np.maximum(np.rint((notes.onset + notes.duration) * tpb) - on, 1)  # one tick at least
    if len(on) and not (on.min() >= 0 and (on + dur).max() <= MAX_TICK):  # NaN fails too
        i = np.flatnonzero(~((on >= 0) & (on + dur <= MAX_TICK)))[0]
        raise _out_of_range(f"a note from beat {notes.onset[i]:g} to {notes.onset[i] + notes.duration[i]:g}", tpb)
    on, dur, pitch = on.astype(np.int32), dur.astype(np.int32), notes.pitch.astype(np.int8)
    velocity = np.minimum(np.maximum(notes.velocity, 1), 127).astype(np.int8)
    track_no, program = notes.track, notes.program
    if len(on) and not (track_no.any() or program.any()):  # one track, as decoded notes have
        groups, labels = None, [(0, 0)]
    else:  # one track per (track, program)
        groups = (track_no.astype(np.int64) << 8) | (program + 1)
        labels = [(g >> 8, (g & 0xFF) - 1) for g in np.unique(groups).tolist()]
    for trk, prog in labels:
        drum = prog == DRUM_PROGRAM
        track = core.TrackTick("drums" if drum else f"track {trk}", 0 if drum else prog, drum)
        sel = slice(None) if groups is None else groups == (trk << 8) | (prog + 1)
        track.notes = core.NoteTickList.from_numpy(on[sel], dur[sel], pitch[sel], velocity[sel])
        score.tracks.append(track)
    return score


def midi_bytes(notes: Notes, *, ticks_per_beat: int = TICKS_PER_BEAT) -> bytes:
    """The Standard MIDI File content for ``notes`` (tracks by track index and program), repeats and
    endings played (:meth:`~musicgate.music.notes.Notes.played`).

    Raises
    ------
    MidiError
        If a pitch is outside 0-127, a time is before beat 0 or past :data:`MAX_TICK` ticks, or a
        time signature does not fit a MIDI file.
    """
    return bytes(_to_score(notes, ticks_per_beat).dumps_midi())


def write_midi(notes: Notes, path: "str | os.PathLike", *, ticks_per_beat: int = TICKS_PER_BEAT) -> Path:
    """Write ``notes`` to a MIDI file atomically (never a half-written file). Returns the path.

    Raises
    ------
    MidiError
        As :func:`midi_bytes`, or when the file cannot be written (a folder that is not writable).
    """
    try:
        score = _to_score(notes, ticks_per_beat)
    except MidiError as exc:
        raise MidiError(f"{path}: {exc}") from None
    try:
        return atomic_write_with(path, score.dump_midi)  # symusic writes the file itself
    except (RuntimeError, OSError) as exc:  # symusic raises RuntimeError when it cannot open the file
        raise MidiError(f"{path}: cannot write the MIDI file ({exc}); check that its folder is writable") from None


def from_pretty_midi(pm, *, drums: bool = False) -> Notes:
    """Notes from a ``pretty_midi.PrettyMIDI`` (times converted to beats with its tempo map)."""
    cols = {k: [] for k in ("pitch", "start", "end", "velocity", "program", "track")}
    for index, inst in enumerate(pm.instruments):
        if inst.is_drum and not drums:
            continue
        for note in inst.notes:
            cols["pitch"].append(note.pitch)
            cols["start"].append(note.start)
            cols["end"].append(note.end)
            cols["velocity"].append(note.velocity)
            cols["program"].append(DRUM_PROGRAM if inst.is_drum else inst.program)
            cols["track"].append(index)
    res = float(pm.resolution)
    to_beats = lambda t: np.asarray([pm.time_to_tick(x) for x in t], dtype=np.float64) / res  # noqa: E731
    onset, end = to_beats(cols["start"]), to_beats(cols["end"])
    change_t, qpm = pm.get_tempo_changes()
    tempos = np.stack([to_beats(change_t), qpm], axis=1) if len(qpm) else None
    keys = tuple((pm.time_to_tick(k.time) / res, Key(k.key_number % 12, "minor" if k.key_number >= 12 else "major"))
                 for k in pm.key_signature_changes)
    meters = tuple((pm.time_to_tick(t.time) / res, t.numerator, t.denominator) for t in pm.time_signature_changes)
    return Notes.from_arrays(cols["pitch"], onset, end - onset, cols["velocity"], program=cols["program"],
                             track=cols["track"], tempos=tempos, keys=keys, meters=meters)


def to_pretty_midi(notes: Notes, *, ticks_per_beat: int = TICKS_PER_BEAT):
    """A ``pretty_midi.PrettyMIDI`` with the notes, tempo map, key and time signatures."""
    import io

    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(notes, ticks_per_beat=ticks_per_beat)))
