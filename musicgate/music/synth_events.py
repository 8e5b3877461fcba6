"""Note events shared by the synthesizers of :mod:`musicgate.music.audio` and
:mod:`musicgate.music.midirender`: MIDI channels per (track, program) and sample-timed note on/off."""
from __future__ import annotations

import numpy as np

from musicgate.music.notes import DRUM_PROGRAM, Notes

TAIL_SECONDS = 2.0
"""Time rendered after the last note ends so releases ring out (trailing silence is trimmed)."""


def channel_map(notes: Notes) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Channel of each note and (channel, program) per channel; drums are on their own channel."""
    groups = np.stack([notes.track.astype(np.int64), notes.program.astype(np.int64)], axis=1)
    uniq, inverse = np.unique(groups, axis=0, return_inverse=True)
    programs = []
    chan_of_group = np.zeros(len(uniq), dtype=np.int64)
    next_chan = 0
    for g, (_, prog) in enumerate(uniq):
        if prog == DRUM_PROGRAM:
            chan_of_group[g] = 9
        else:
            next_chan += next_chan == 9  # keep channel 10 (index 9) for drums, as General MIDI does
            chan_of_group[g] = next_chan
            next_chan += 1
        programs.append((int(chan_of_group[g]), int(prog)))
    return chan_of_group[inverse.reshape(-1)], sorted(set(programs))


def note_events(notes: Notes, sample_rate: int) -> tuple[np.ndarray, int]:
    """(m, 5) int events (frame, is_on, channel, pitch, velocity) sorted by frame, offs first."""
    chan, _ = channel_map(notes)
    on = np.round(notes.onset_seconds * sample_rate).astype(np.int64)
    off = np.maximum(np.round(notes.end_seconds * sample_rate).astype(np.int64), on + 1)
    n = len(notes)
    frame = np.r_[on, off]
    is_on = np.r_[np.ones(n, np.int64), np.zeros(n, np.int64)]
    ev = np.stack([frame, is_on, np.r_[chan, chan], np.r_[notes.pitch, notes.pitch],
                   np.clip(np.r_[notes.velocity, notes.velocity], 1, 127)], axis=1).astype(np.int64)
    ev = ev[np.lexsort((ev[:, 1], ev[:, 0]))]  # by frame, note-offs before note-ons
    return ev, int(off.max())
