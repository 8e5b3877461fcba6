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
                vel_end: int, velocity_of: np.ndarray, first_velocity: int, program_of: np.ndarray,
                drum_of: np.ndarray) -> tuple[np.ndarray, ...]:
    """Notes of an event token sequence, in order of their NOTE_ON (and DRUM) tokens.

    Parameters
    ----------
    ids : (T,) int64 token ids, all in the vocabulary.
    steps : grid steps each token moves time by (SHIFT tokens; 0 for the others).
    pitch_of : MIDI pitch of each NOTE_ON / NOTE_OFF token, -1 for the others.
    on_end : NOTE_ON tokens are the pitch tokens below this id, NOTE_OFF tokens the rest.
    vel_base, vel_end, velocity_of : VEL tokens are ids in ``vel_base..vel_end-1``; ``velocity_of[id - vel_base]``.
    first_velocity : velocity of notes before any VEL token.
    program_of : program (0-127) each PROGRAM token switches to, -1 for the others.
    drum_of : pitch of each DRUM token, -1 for the others.

    Returns
    -------
    pitch, onset, duration, velocity, program : int64 arrays (onset and duration in grid steps). A
    NOTE_ON ends at the next NOTE_ON or NOTE_OFF of its pitch in the same program (program 0 before
    any PROGRAM token), or at the last time of the sequence; every note lasts one step at least. A
    DRUM token is a note of program -1 one step long.
    """
    global _compiled
    if _compiled is None:
        import numba

        _compiled = numba.njit(cache=True, nogil=True)(_event_notes)
    return _compiled(ids, steps, pitch_of, on_end, vel_base, vel_end, velocity_of, first_velocity, program_of,
                     drum_of)


def _event_notes(ids, steps, pitch_of, on_end, vel_base, vel_end, velocity_of, first_velocity, program_of, drum_of):
    n = ids.shape[0]
    pitch, onset = np.empty(n, np.int64), np.empty(n, np.int64)
    duration, velocity, program = np.full(n, -1, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    sounding = np.full(128 * 128, -1, np.int64)  # program * 128 + pitch -> index of its sounding note
    time, vel, prog, count = 0, first_velocity, 0, 0
    for i in range(n):
        token = ids[i]
        time += steps[token]
        p = pitch_of[token]
        if p >= 0:
            voice = prog * 128 + p
            j = sounding[voice]
            if j >= 0:
                duration[j] = max(time - onset[j], 1)
                sounding[voice] = -1
            if token < on_end:
                pitch[count], onset[count], velocity[count], program[count] = p, time, vel, prog
                sounding[voice] = count
                count += 1
        elif program_of[token] >= 0:
            prog = program_of[token]
        elif drum_of[token] >= 0:
            pitch[count], onset[count], duration[count] = drum_of[token], time, 1
            velocity[count], program[count] = vel, -1
            count += 1
        elif vel_base <= token and token < vel_end:
            vel = velocity_of[token - vel_base]
    for j in range(count):  # still sounding at the end
        if duration[j] < 0:
            duration[j] = max(time - onset[j], 1)
    return pitch[:count], onset[:count], duration[:count], velocity[:count], program[:count]
