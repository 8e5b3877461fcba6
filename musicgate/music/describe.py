"""What ``musicgate info`` reports about a MIDI file: tracks, notes, keys, meters, length, tempo."""
from __future__ import annotations

import os

import numpy as np

from musicgate.music.midi import read_midi


def describe(path: "str | os.PathLike") -> dict:
    """A summary of a MIDI file, as plain JSON-ready values.

    Returns
    -------
    dict
        ``file``, ``notes``, ``tracks`` (per track: ``track``, ``program`` (``"drums"`` for the
        drum channel), ``notes``, ``pitch_range``), ``beats``, ``seconds``, ``key_signatures`` and
        ``time_signatures`` (``[beat, name]`` pairs), ``tempo_changes`` and ``first_tempo_qpm``.

    Raises
    ------
    MidiError
        The file is missing or not readable MIDI.
    """
    notes = read_midi(path, drums=True)
    tracks = []
    for trk in np.unique(notes.track):
        sel = notes.track == trk
        prog = int(notes.program[sel][0])
        tracks.append({"track": int(trk), "program": "drums" if prog < 0 else prog, "notes": int(sel.sum()),
                       "pitch_range": [int(notes.pitch[sel].min()), int(notes.pitch[sel].max())]})
    return {
        "file": str(path), "notes": len(notes), "tracks": tracks,
        "beats": round(notes.end, 3), "seconds": round(float(notes.seconds(notes.end)), 3),
        "key_signatures": [[round(b, 3), k.name] for b, k in notes.keys],
        "time_signatures": [[round(b, 3), f"{n}/{d}"] for b, n, d in notes.meters],
        "tempo_changes": len(notes.tempos), "first_tempo_qpm": round(float(notes.tempos[0, 1]), 2),
    }


def describe_text(d: dict) -> str:
    """The summary of :func:`describe` as the lines ``musicgate info`` prints."""
    lines = [f"{d['file']}: {d['notes']} notes in {len(d['tracks'])} tracks, {d['beats']} beats, "
             f"{d['seconds']} s, tempo {d['first_tempo_qpm']} qpm ({d['tempo_changes']} tempo changes)",
             "key signatures: " + (", ".join(f"{k} at beat {b}" for b, k in d["key_signatures"]) or "none"),
             "time signatures: " + (", ".join(f"{m} at beat {b}" for b, m in d["time_signatures"]) or "none")]
    lines += [f"  track {t['track']}: program {t['program']}, {t['notes']} notes, "
              f"pitches {t['pitch_range'][0]}-{t['pitch_range'][1]}" for t in d["tracks"]]
    return "\n".join(lines)


__all__ = ["describe", "describe_text"]
