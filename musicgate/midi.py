"""MIDI files and pretty_midi objects to and from :class:`~musicgate.notes.Notes`.

Files are parsed with symusic (C++, ~100x pretty_midi's speed); ``symusic.Score`` and
``pretty_midi.PrettyMIDI`` never leave this module.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import MidiError
from .files import atomic_write_bytes
from .keys import Key
from .notes import DRUM_PROGRAM, Notes

TICKS_PER_BEAT = 480
"""Resolution of the MIDI files musicgate writes (divisible by 2, 3, 4, 5, 8, 12, 16, 32)."""
MAX_BEAT = 2.0**20
"""Latest onset accepted when reading (about a week of music at 120 bpm); later notes are
an error, so an absurd tick value can never make later stages allocate gigabytes."""


def _score_from(source: "str | os.PathLike | bytes"):
    import symusic

    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return symusic.Score.from_midi(bytes(source)), "<bytes>"
        path = Path(source)
        if not path.is_file():
            raise MidiError(f"{path}: no such MIDI file")
        return symusic.Score.from_midi(path.read_bytes()), str(path)
    except MidiError:
        raise
    except Exception as exc:  # symusic raises RuntimeError for every malformed file
        name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)
        reason = str(exc).replace("MiniMidi: ", "").replace(": iostream error", "")
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
    score, name = _score_from(source)
    tpq = float(score.ticks_per_quarter)
    if tpq <= 0:
        raise MidiError(f"{name}: MIDI header has a non-positive resolution ({tpq:g} ticks per beat)")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("pitch", "time", "duration", "velocity", "program", "track")}
    index = 0  # tracks are numbered among the kept ones, so write -> read keeps the numbers
    for track in score.tracks:
        if (track.is_drum and not drums) or len(track.notes) == 0:
            continue
        arr = track.notes.numpy()
        n = len(arr["pitch"])
        for k in ("pitch", "time", "duration", "velocity"):
            cols[k].append(arr[k])
        cols["program"].append(np.full(n, DRUM_PROGRAM if track.is_drum else track.program, np.int16))
        cols["track"].append(np.full(n, index, np.int16))
        index += 1
    cat = lambda k, dt: np.concatenate(cols[k]).astype(dt) if cols[k] else np.zeros(0, dt)  # noqa: E731
    time_, dur, pitch = cat("time", np.int64), cat("duration", np.int64), cat("pitch", np.int16)
    if len(time_) and (time_.min() < 0 or time_.max() > MAX_BEAT * tpq):
        bad = time_[(time_ < 0) | (time_ > MAX_BEAT * tpq)][0] / tpq
        raise MidiError(f"{name}: a note starts at beat {bad:.0f}, outside 0..{MAX_BEAT:.0f}; "
                        "the file's tick values are corrupt")
    if len(pitch) and pitch.min() < 0:
        raise MidiError(f"{name}: a note has a pitch outside MIDI's 0-127")
    # Canonical order (Notes.sorted): onset, pitch, duration, velocity, track, program, on integer ticks.
    velocity, program, track_no = cat("velocity", np.int16), cat("program", np.int16), cat("track", np.int16)
    rest = (velocity.astype(np.int64) << 34) | (track_no.astype(np.int64) << 17) | (program.astype(np.int64) & 0x1FFFF)
    order = np.lexsort((rest, dur, (time_ << 7) | pitch))
    tempos = score.tempos.numpy() if len(score.tempos) else None
    tempo_map = None
    if tempos is not None:
        beats, qpm = tempos["time"] / tpq, 6e7 / np.maximum(tempos["mspq"], 1)
        last = np.r_[beats[1:] != beats[:-1], True]  # of several changes at one beat, the last wins
        tempo_map = np.stack([beats[last], qpm[last]], axis=1)
        if tempo_map[0, 0] > 0:
            tempo_map = np.vstack([[0.0, tempo_map[0, 1]], tempo_map])
    keys = tuple((ks.time / tpq, Key.from_signature(ks.key, bool(ks.tonality)))
                 for ks in score.key_signatures if -7 <= ks.key <= 7)
    meters = tuple((ts.time / tpq, ts.numerator, ts.denominator)
                   for ts in score.time_signatures if ts.numerator > 0 and ts.denominator > 0)
    return Notes._trusted(pitch[order], time_[order] / tpq, np.maximum(dur[order], 0) / tpq, velocity[order],
                          program[order], track_no[order], tempo_map, keys, meters)


def _to_score(notes: Notes, ticks_per_beat: int):
    import symusic

    tpb = ticks_per_beat
    score = symusic.Score(tpb)
    tick = lambda beats: np.round(np.asarray(beats) * tpb).astype(np.int64)  # noqa: E731
    for beat, qpm in notes.tempos:
        score.tempos.append(symusic.Tempo(int(tick(beat)), float(qpm)))
    for beat, key in notes.keys:
        score.key_signatures.append(symusic.KeySignature(int(tick(beat)), _sharps(key), int(key.mode == "minor")))
    for beat, num, den in notes.meters:
        score.time_signatures.append(symusic.TimeSignature(int(tick(beat)), num, den))
    group = notes.track.astype(np.int64) * 256 + notes.program + 1  # one track per (track, program)
    for g in np.unique(group):
        trk, prog = divmod(int(g), 256)
        prog -= 1
        sel = group == g
        drum = prog == DRUM_PROGRAM
        track = symusic.Track(name="drums" if drum else f"track {trk}", program=0 if drum else int(prog), is_drum=bool(drum))
        on = tick(notes.onset[sel])
        dur = np.maximum(tick(notes.onset[sel] + notes.duration[sel]) - on, 1)
        track.notes = symusic.Note.from_numpy(
            time=on.astype(np.int32), duration=dur.astype(np.int32),
            pitch=notes.pitch[sel].astype(np.int8), velocity=np.clip(notes.velocity[sel], 1, 127).astype(np.int8))
        score.tracks.append(track)
    return score


def _sharps(key: Key) -> int:
    """Sharps of a key signature in -7..7 as MIDI stores it."""
    return key.signature


def midi_bytes(notes: Notes, *, ticks_per_beat: int = TICKS_PER_BEAT) -> bytes:
    """The Standard MIDI File content for ``notes`` (tracks by track index and program)."""
    if len(notes) and (notes.pitch.min() < 0 or notes.pitch.max() > 127):
        raise MidiError("cannot write MIDI: a pitch is outside 0-127")
    return bytes(_to_score(notes, ticks_per_beat).dumps_midi())


def write_midi(notes: Notes, path: "str | os.PathLike", *, ticks_per_beat: int = TICKS_PER_BEAT) -> Path:
    """Write ``notes`` to a MIDI file atomically (never a half-written file). Returns the path."""
    return atomic_write_bytes(path, midi_bytes(notes, ticks_per_beat=ticks_per_beat))


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
