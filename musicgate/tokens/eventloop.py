"""Event tokens to notes: one pass over the tokens, compiled by numba.

A per-file decode of a few hundred notes is bound by per-call overhead, not by arithmetic: the same
rule written with numpy takes ~35 array calls a file. Written as the loop it is, and compiled, it
takes a few microseconds. numba comes with librosa; it is imported, and the loop compiled (then
cached beside this file), on the first decode in a process.
"""
from __future__ import annotations

import numpy as np

_compiled = None


def event_notes(ids: np.ndarray, steps: np.ndarray, pitch_of: np.ndarray, on_end: int, vel_base: int,
                velocity_of: np.ndarray, first_velocity: int) -> tuple[np.ndarray, ...]:
    """Notes of an event token sequence, in order of their NOTE_ON tokens.

    Parameters
    ----------
    ids : (T,) int64 token ids, all in the vocabulary.
    steps : grid steps each token moves time by (SHIFT tokens; 0 for the others).
    pitch_of : MIDI pitch of each NOTE_ON / NOTE_OFF token, -1 for the others.
    on_end : NOTE_ON tokens are the pitch tokens below this id, NOTE_OFF tokens the rest.
    vel_base, velocity_of : VEL tokens are ids >= vel_base; ``velocity_of[id - vel_base]``.
    first_velocity : velocity of notes before any VEL token.

    Returns
    -------
    pitch, onset, duration, velocity : int64 arrays (onset and duration in grid steps). A NOTE_ON
    ends at the next NOTE_ON or NOTE_OFF of its pitch, or at the last time of the sequence; every
    note lasts one step at least.
    """
    global _compiled
    if _compiled is None:
        import numba

        _compiled = numba.njit(cache=True, nogil=True)(_event_notes)
    return _compiled(ids, steps, pitch_of, on_end, vel_base, velocity_of, first_velocity)


def _event_notes(ids, steps, pitch_of, on_end, vel_base, velocity_of, first_velocity):
    n = ids.shape[0]
    pitch, onset = np.empty(n, np.int64), np.empty(n, np.int64)
    duration, velocity = np.empty(n, np.int64), np.empty(n, np.int64)
    sounding = np.full(128, -1, np.int64)  # pitch -> index of its sounding note
    time, vel, count = 0, first_velocity, 0
    for i in range(n):
        token = ids[i]
        time += steps[token]
        p = pitch_of[token]
        if p >= 0:
            j = sounding[p]
            if j >= 0:
                duration[j] = max(time - onset[j], 1)
                sounding[p] = -1
            if token < on_end:
                pitch[count], onset[count], velocity[count] = p, time, vel
                sounding[p] = count
                count += 1
        elif token >= vel_base:
            vel = velocity_of[token - vel_base]
    for p in range(128):
        if sounding[p] >= 0:
            duration[sounding[p]] = max(time - onset[sounding[p]], 1)
    return pitch[:count], onset[:count], duration[:count], velocity[:count]
