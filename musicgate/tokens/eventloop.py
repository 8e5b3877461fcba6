"""Event and melody tokens to notes: one pass over the tokens, compiled by numba.

A per-file decode of a few hundred notes is bound by per-call overhead, not by arithmetic: the same
rule written with numpy takes ~35 array calls a file. Written as the loop it is, and compiled, it
takes a few microseconds. numba comes with librosa; it is imported, and the loop compiled (then
cached beside this file), on the first decode in a process.
"""
from __future__ import annotations

import numpy as np

_compiled: dict = {}


def _jit(loop):
    """``loop`` compiled by numba (imported and compiled on first use, cached on disk)."""
    if loop not in _compiled:
        import numba

        _compiled[loop] = numba.njit(cache=True, nogil=True)(loop)
    return _compiled[loop]


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
    return _jit(_event_notes)(ids, steps, pitch_of, on_end, vel_base, vel_end, velocity_of, first_velocity,
                              program_of, drum_of)


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


def melody_walk(ids: np.ndarray, pitch_of: np.ndarray, is_head: np.ndarray, line_code: np.ndarray, dur_base: int,
                tie: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Notes and bar lines of a melody token sequence, onsets from the start of the tokens.

    Parameters
    ----------
    ids : (T,) int64 token ids, all in the vocabulary.
    pitch_of : MIDI pitch of each PITCH token, -1 for the others.
    is_head : True for the tokens a DUR token gives a length to (PITCH, REST, TIE).
    line_code : code of each bar-line token (``|``, ``|:``, ...), -1 for the others.
    dur_base : DUR tokens are the ids from here up; a DUR token is ``id - dur_base + 1`` steps.
    tie : id of TIE (-1 for none): a TIE and a DUR after a note lengthen that note.

    Returns
    -------
    notes : (N, 3) int64 rows of pitch, onset and steps.
    line_at, line_codes : int64 positions and codes of the bar lines, in order.
    end : int, the position after the last DUR.
    """
    return _jit(_melody_walk)(ids, pitch_of, is_head, line_code, dur_base, tie)


def _melody_walk(ids, pitch_of, is_head, line_code, dur_base, tie):
    n = ids.shape[0]
    notes = np.empty((n, 3), np.int64)
    line_at, line_codes = np.empty(n, np.int64), np.empty(n, np.int64)
    count, lines, pos, head, tied = 0, 0, 0, -1, False
    for i in range(n):
        x = ids[i]
        if line_code[x] >= 0:
            line_at[lines], line_codes[lines] = pos, line_code[x]
            lines += 1
        elif x >= dur_base:
            if head < 0:
                continue
            d = x - dur_base + 1
            if pitch_of[head] >= 0:
                notes[count, 0], notes[count, 1], notes[count, 2] = pitch_of[head], pos, d
                count += 1
                tied = True
            elif head == tie and tied:
                notes[count - 1, 2] += d
            else:
                tied = False
            pos += d
            head = -1
        elif is_head[x]:
            head = x
    return notes[:count], line_at[:lines], line_codes[:lines], pos


def form_tokens(heads: np.ndarray, on: np.ndarray, du: np.ndarray, line_at: np.ndarray, line_tokens: np.ndarray,
                start: int, rest: int, tie: int, dur0: int, max_steps: int) -> np.ndarray:
    """The body of a melody token sequence with bar lines: each note and each gap before it cut at bar
    lines and at ``max_steps``.

    Parameters
    ----------
    heads, on, du : (N,) int64 PITCH token, onset and steps of each note, in order, not overlapping.
    line_at, line_tokens : (L,) int64 position and token of each bar line, in order.
    start : where the tokens start (a gap from here to the first note is rests).
    rest, tie : ids of REST and TIE (the rest of a note cut at a bar line); ``dur0 + k`` is DUR_k.
    max_steps : longest DUR.

    Returns
    -------
    (T,) int64 token ids: bar lines, then a head and a DUR per piece, the rests to the last bar line and
    the bar lines after it.
    """
    return _jit(_form_tokens)(heads, on, du, line_at, line_tokens, start, rest, tie, dur0, max_steps)


def _form_tokens(heads, on, du, line_at, line_tokens, start, rest, tie, dur0, max_steps):
    notes, lines = on.shape[0], line_at.shape[0]
    span = max(on[-1] + du[-1] if notes else 0, line_at[-1] if lines else 0) - min(start, 0)
    out = np.empty(2 * (2 * notes + 2 + span // max_steps + lines) + lines, np.int64)
    n, li, t = 0, 0, start
    for k in range(2 * notes + 1):  # the gap before each note, the note; the rests to the last bar line
        i = k // 2
        if k % 2 == 0:
            head, cont, a = rest, rest, t
            b = on[i] if i < notes else (line_at[lines - 1] if lines else t)
        else:
            head, cont, a, b = heads[i], tie, on[i], on[i] + du[i]
            t = b
        while a < b:  # one piece per bar and per max_steps, bar lines before the piece they start
            while li < lines and line_at[li] <= a:
                out[n] = line_tokens[li]
                n += 1
                li += 1
            e = min(b, a + max_steps)
            if li < lines:
                e = min(e, line_at[li])
            out[n], out[n + 1] = head, dur0 + e - a
            n += 2
            head, a = cont, e
    for j in range(li, lines):
        out[n] = line_tokens[j]
        n += 1
    return out[:n]
