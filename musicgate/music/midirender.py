"""The ``midirenderer`` backend of :mod:`musicgate.music.audio`: notes -> MIDI bytes -> rustysynth.

``midirenderer`` (a Rust wheel with no dependencies) renders a whole Standard MIDI File with the
rustysynth synthesizer and returns 16-bit stereo WAV bytes. Its fixed settings are worked around here:

- 48 kHz only: the result is resampled (:func:`scipy.signal.resample_poly`) to the asked rate.
- The file ends at its last event: an end-of-track :data:`~musicgate.music.synth_events.TAIL_SECONDS`
  after the last note-off lets releases and reverb ring out.
- Output is clamped to [-1, 1) before it becomes 16-bit: a pass that reaches full scale is
  rendered again with the channel volume (CC7) halved, and scaled back.
- 64 voices and 16 channels: the notes are split into passes (:func:`passes`) that each hold at
  most :data:`HELD_NOTES` notes at once on at most 15 pitched channels plus drums, and the passes
  are summed (the synthesizer is linear in its voices). A dense orchestral file otherwise loses
  notes to voice stealing: a string note of ``TimGM6mb.sf2`` starts up to 6 voices.

The MIDI bytes use 24000 ticks per beat at 120 beats per minute, so one tick is one sample at
48 kHz and onsets are exact (rustysynth applies events every 64 samples, 1.3 ms).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from musicgate.errors import AudioError
from musicgate.music.notes import DRUM_PROGRAM, Notes
from musicgate.music.synth_events import TAIL_SECONDS, channel_map as _channels, note_events as _events

RATE = 48000
"""midirenderer's fixed output rate (Hz)."""
VOICES = 64
"""rustysynth's polyphony in midirenderer (fixed)."""
VOICES_PER_NOTE = 6
"""Most voices one note starts in ``TimGM6mb.sf2`` (Strings, program 48; most presets use 1 or 2)."""
HELD_NOTES = VOICES // VOICES_PER_NOTE
"""Notes held at once in one pass (10), so no held note is ever stolen."""
PITCHED_CHANNELS = 15
"""MIDI channels 1-16 less channel 10 (drums)."""
_VOLUMES = (100, 50, 25)
"""CC7 values tried per pass; 100 is the General MIDI default, each halving is 1/4 the gain."""
_MAX_DELTA = 0x0FFFFFFF
"""Largest MIDI delta time (ticks, 28 bits): 93 minutes at one tick a sample."""


def available() -> bool:
    """Whether the midirenderer package can be imported."""
    try:
        import midirenderer  # noqa: F401
    except ImportError:
        return False
    return True


def _held_peak(on: np.ndarray, off: np.ndarray) -> int:
    """Most notes sounding at once (a note ending where another starts does not overlap it)."""
    if len(on) == 0:
        return 0
    frames = np.r_[on, off]
    step = np.r_[np.ones(len(on), np.int64), -np.ones(len(off), np.int64)]
    order = np.lexsort((step, frames))  # offs before ons at the same frame
    return int(np.cumsum(step[order]).max())


def passes(notes: Notes, *, held: int = HELD_NOTES) -> list[np.ndarray]:
    """Note indices of each rendering pass, in order of first use.

    Every pass holds at most ``held`` notes at once and at most :data:`PITCHED_CHANNELS` pitched
    (track, program) groups (drums share channel 10). A group denser than ``held`` is dealt
    round-robin (in onset order) over several passes. Most music needs one pass.
    """
    on = np.round(notes.onset_seconds * RATE).astype(np.int64)
    off = np.maximum(np.round(notes.end_seconds * RATE).astype(np.int64), on + 1)
    chan, _ = _channels(notes)
    units: list[tuple[int, np.ndarray]] = []  # (channel, indices), each within `held` on its own
    for c in np.unique(chan).tolist():
        idx = np.flatnonzero(chan == c)
        idx = idx[np.argsort(on[idx], kind="stable")]
        k = max(1, math.ceil(_held_peak(on[idx], off[idx]) / held))
        while True:
            lanes = [idx[j::k] for j in range(k)]
            if all(_held_peak(on[lane], off[lane]) <= held for lane in lanes):
                break
            k += 1
        units += [(c, np.sort(lane)) for lane in lanes]
    # first fit, largest units first
    units.sort(key=lambda u: -_held_peak(on[u[1]], off[u[1]]))
    bins: list[tuple[set[int], np.ndarray]] = []
    for c, idx in units:
        for i, (chans, have) in enumerate(bins):
            pitched = len(chans - {9} | ({c} - {9}))
            both = np.r_[have, idx]
            if pitched <= PITCHED_CHANNELS and _held_peak(on[both], off[both]) <= held:
                bins[i] = (chans | {c}, both)
                break
        else:
            bins.append(({c}, idx))
    return sorted((np.sort(idx) for _, idx in bins), key=lambda idx: int(idx[0]))


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: Notes, end: int, *, volume: int = 100) -> bytes:
    """A one-track MIDI file of ``notes`` where one tick is one sample at 48 kHz, ending at ``end``
    (or at the last note-off, if later).

    Each (track, program) group gets its channel (drums: channel 10) with the channel volume
    ``volume`` (CC7). Times come from the notes' tempo map, so the file has one tempo.
    """
    events, _ = _events(notes, RATE)
    _, programs = _channels(notes)
    body = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")  # 500000 us a beat: 120 beats per minute
    for chan, program in programs:
        body += bytes([0, 0xB0 | chan, 7, volume])
        if program != DRUM_PROGRAM:
            body += bytes([0, 0xC0 | chan, program])
    pos = 0
    end = max(int(end), int(events[-1, 0]) if len(events) else 0)
    for frame, is_on, chan, pitch, velocity in [*events.tolist(), [end, -1, 0, 0, 0]]:
        if frame - pos > _MAX_DELTA:
            raise AudioError(f"cannot render a silence of {(frame - pos) / RATE / 60:.0f} minutes between "
                             "notes with midirenderer; use backend 'tinysoundfont' or cut the silence")
        body += _varlen(frame - pos)
        pos = frame
        if is_on == -1:
            body += b"\xff\x2f\x00"  # end of track
        else:
            body += bytes([(0x90 if is_on else 0x80) | chan, pitch, velocity if is_on else 0])
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") \
        + (24000).to_bytes(2, "big")
    return header + b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def _render_pass(sf2: bytes, soundfont: Path, notes: Notes, end: int) -> np.ndarray:
    """(end, 2) float32 at 48 kHz; rendered again at a lower channel volume if it reached full scale."""
    import midirenderer
    import soundfile

    for volume in _VOLUMES:
        try:
            wav = midirenderer.render_wave_from(sf2, midi_bytes(notes, end, volume=volume))
        except (RuntimeError, ValueError) as exc:
            if str(exc).startswith("SoundFont error"):
                raise AudioError(f"{soundfont}: the soundfont could not be loaded ({exc}); "
                                 "pass a valid General MIDI .sf2 file") from None
            raise AudioError(f"midirenderer could not render the notes ({exc}); "
                             "try backend 'tinysoundfont'") from None
        pcm, _ = soundfile.read(io.BytesIO(wav), dtype="int16", always_2d=True)
        if not len(pcm) or (pcm.max() < 32767 and pcm.min() > -32768):  # the clamp's rails
            break
    audio = pcm.astype(np.float32) * np.float32((100 / volume) ** 2 / 32768)
    if len(audio) < end:  # the renderer truncates length * rate; keep every pass the same length
        audio = np.pad(audio, ((0, end - len(audio)), (0, 0)))
    return audio[:end]


def render(notes: Notes, soundfont: Path, sample_rate: int) -> tuple[np.ndarray, int]:
    """Synthesize ``notes`` with midirenderer: (frames, 2) float32 at ``sample_rate``, and the frame
    where the last note ends (the release tail follows, :data:`~musicgate.music.synth_events.TAIL_SECONDS`).
    """
    try:
        import midirenderer  # noqa: F401
    except ImportError:
        raise AudioError("backend 'midirenderer' needs the midirenderer package: pip install "
                         "midirenderer (a dependency of musicgate; reinstall musicgate)") from None
    from scipy.signal import resample_poly

    sf2 = soundfont.read_bytes()
    _, last = _events(notes, RATE)
    end = last + int(TAIL_SECONDS * RATE)
    audio = np.zeros((end, 2), dtype=np.float32)
    for idx in passes(notes):
        mask = np.zeros(len(notes), dtype=bool)
        mask[idx] = True
        audio += _render_pass(sf2, soundfont, notes.select(mask), end)
    _, last_out = _events(notes, sample_rate)
    if sample_rate != RATE:
        g = math.gcd(sample_rate, RATE)
        audio = resample_poly(audio, sample_rate // g, RATE // g, axis=0).astype(np.float32)
    return audio, last_out
