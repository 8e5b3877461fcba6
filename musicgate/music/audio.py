"""Render :class:`~musicgate.music.notes.Notes` or MIDI files to audio with a General MIDI soundfont.

Three synthesizers are supported, all driven by the same notes:

- ``midirenderer`` (the default; a normal dependency): the rustysynth synthesizer in a Rust wheel
  with no dependencies, published for Linux x86-64, macOS (x86-64, arm64) and Windows x86-64. It
  renders whole MIDI files at 48 kHz with reverb and chorus, 64 voices and 16 channels, so the notes
  are rendered in passes that each stay within those limits (:func:`_passes`), and the sum is
  resampled to the asked rate.
- ``tinysoundfont`` (optional, ``pip install --no-deps tinysoundfont``: its wheel declares
  ``pyaudio``, which is only used for live playback and has no Linux wheel): sample-accurate
  events at any rate, 512 voices, no reverb; velocity is linear instead of the SoundFont curve.
- ``fluidsynth`` (``pyfluidsynth`` plus the system ``libfluidsynth``): the reference synthesizer.

``backend="auto"`` takes the first of them that is installed, in that order.

The default soundfont is ``TimGM6mb.sf2``, shipped inside the ``pretty_midi`` package. Each
(track, program) pair plays on its own channel with its General MIDI program; drum notes
(``program == -1``, MIDI channel 10) use the soundfont's percussion bank 128.

A MIDI with no notes is an error (:class:`~musicgate.errors.AudioError`), never a silent file:
a silent WAV in a gallery would look like a broken player.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from musicgate.errors import AudioError
from musicgate.files import atomic_path
from musicgate.music.midi import MAX_AUDIO_SECONDS
from musicgate.music.notes import DRUM_PROGRAM, Notes
from musicgate.music.synth_events import TAIL_SECONDS, channel_map as _channels, note_events as _events

BACKENDS = ("auto", "midirenderer", "tinysoundfont", "fluidsynth")
PEAK = 0.99
"""Peak amplitude of rendered audio after normalization."""
_SILENCE = 1e-4


def default_soundfont() -> Path:
    """Path of the General MIDI soundfont shipped with pretty_midi (``TimGM6mb.sf2``)."""
    import pretty_midi

    path = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise AudioError(f"{path}: pretty_midi's soundfont is missing; reinstall pretty_midi "
                         "or pass a General MIDI .sf2 with --soundfont")
    return path


def check_soundfont(soundfont: "str | os.PathLike | None") -> Path:
    """The soundfont path, checked to exist and to start like an SF2 file (RIFF ... sfbk)."""
    path = default_soundfont() if soundfont is None else Path(soundfont)
    if not path.is_file():
        raise AudioError(f"{path}: no such soundfont; pass the path of a General MIDI .sf2 file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read the soundfont ({exc.strerror}); check its permissions") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] not in (b"sfbk", b"sfpk"):
        raise AudioError(f"{path}: not a SoundFont (.sf2) file; pass a General MIDI .sf2 file")
    return path


# -- synthesizers ------------------------------------------------------------------------------
class _Synth:
    """What both backends share: note events go straight to the wrapped synthesizer."""

    _synth = None

    def noteon(self, chan: int, pitch: int, velocity: int) -> None:
        self._synth.noteon(chan, pitch, velocity)

    def noteoff(self, chan: int, pitch: int) -> None:
        self._synth.noteoff(chan, pitch)


class _TinySoundFont(_Synth):
    name = "tinysoundfont"

    def __init__(self, soundfont: Path, sample_rate: int) -> None:
        try:
            import tinysoundfont
        except ImportError:
            raise AudioError("backend 'tinysoundfont' needs the tinysoundfont package: pip install "
                             "--no-deps tinysoundfont; or use backend 'midirenderer'") from None
        self._synth = tinysoundfont.Synth(samplerate=sample_rate)
        try:
            self._sfid = self._synth.sfload(str(soundfont), max_voices=512)
        except Exception as exc:  # tinysoundfont raises RuntimeError for a malformed file
            raise AudioError(f"{soundfont}: the soundfont could not be loaded ({exc}); "
                             "pass a valid General MIDI .sf2 file") from None

    def program(self, chan: int, program: int) -> None:
        drums = program == DRUM_PROGRAM
        try:
            self._synth.program_select(chan, self._sfid, 128 if drums else 0, 0 if drums else program,
                                       is_drums=drums)
        except RuntimeError:  # the soundfont has no such preset: fall back to piano
            self._synth.program_select(chan, self._sfid, 0, 0)

    def fill(self, out: np.ndarray) -> None:
        """Render into ``out`` ((frames, 2) float32, C-contiguous)."""
        if len(out):
            self._synth.generate_simple(len(out), buffer=memoryview(out).cast("B"))


class _FluidSynth(_Synth):
    name = "fluidsynth"

    def __init__(self, soundfont: Path, sample_rate: int) -> None:
        try:
            import fluidsynth
        except (ImportError, OSError):
            raise AudioError("backend 'fluidsynth' needs pyfluidsynth and the system "
                             "libfluidsynth; use backend 'midirenderer'") from None
        self._synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=0.5)
        self._write = _float_writer(fluidsynth)
        self._sfid = self._synth.sfload(str(soundfont))
        if self._sfid == -1:
            raise AudioError(f"{soundfont}: FluidSynth could not load the soundfont; "
                             "pass a valid General MIDI .sf2 file")

    def program(self, chan: int, program: int) -> None:
        drums = program == DRUM_PROGRAM
        self._synth.program_select(chan, self._sfid, 128 if drums else 0, 0 if drums else program)

    def fill(self, out: np.ndarray) -> None:
        """Render into ``out`` ((frames, 2) float32, C-contiguous), in float: no int16 clipping."""
        if len(out):
            ptr = out.ctypes.data_as(ctypes.c_void_p)
            self._write(self._synth.synth, len(out), ptr, 0, 2, ptr, 1, 2)

    def close(self) -> None:
        self._synth.delete()


def _float_writer(fluidsynth):
    """libfluidsynth's ``fluid_synth_write_float`` (pyfluidsynth only wraps the int16 one)."""
    write = fluidsynth._fl.fluid_synth_write_float
    write.restype = ctypes.c_int
    write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    return write


def midirenderer_available() -> bool:
    """Whether the midirenderer package (the default synthesizer) can be imported."""
    from musicgate.music import midirender

    return midirender.available()


def tinysoundfont_available() -> bool:
    """Whether the tinysoundfont package can be imported."""
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return True


def fluidsynth_available() -> bool:
    """Whether pyfluidsynth and the system libfluidsynth can be loaded."""
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def resolve_backend(backend: str = "auto") -> str:
    """The synthesizer ``backend`` names: ``auto`` is the first installed of midirenderer,
    tinysoundfont and FluidSynth. Raises AudioError for an unknown name, or when ``auto`` finds none."""
    if backend not in BACKENDS:
        raise AudioError(f"unknown audio backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    for name, available in (("midirenderer", midirenderer_available),
                            ("tinysoundfont", tinysoundfont_available),
                            ("fluidsynth", fluidsynth_available)):
        if available():
            return name
    raise AudioError("no synthesizer is installed: pip install midirenderer (a dependency of "
                     "musicgate; reinstall musicgate)")


def _synth(backend: str, soundfont: Path, sample_rate: int):
    if backend == "fluidsynth":
        return _FluidSynth(soundfont, sample_rate)
    return _TinySoundFont(soundfont, sample_rate)


# -- rendering -----------------------------------------------------------------------------------
def _check_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or not 8000 <= sample_rate <= 192000:
        raise AudioError(f"sample rate must be an integer in 8000..192000 Hz, got {sample_rate!r}")
    return int(sample_rate)


def normalize(audio: np.ndarray, *, peak: float = PEAK) -> np.ndarray:
    """``audio`` scaled so its largest absolute sample is ``peak`` (silence is returned as is)."""
    top = float(np.max(np.abs(audio))) if audio.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return audio.astype(np.float32)
    # in float64: the gain for a near-silent float32 signal (1e-45) overflows float32
    return (np.asarray(audio, np.float64) * (peak / top)).astype(np.float32)


def _stream(notes: Notes, synth, sample_rate: int) -> tuple[np.ndarray, int]:
    """Drive ``synth`` note by note: (frames, 2) float32 audio and the frame where the last note ends."""
    try:
        _, programs = _channels(notes)
        for chan, program in programs:
            synth.program(chan, program)
        events, last = _events(notes, sample_rate)
        total = last + int(TAIL_SECONDS * sample_rate)
        audio = np.zeros((total, 2), dtype=np.float32)
        pos = 0
        for frame, is_on, chan, pitch, velocity in events.tolist():
            if frame > pos:
                synth.fill(audio[pos:frame])
                pos = frame
            if is_on:
                synth.noteon(chan, pitch, velocity)
            else:
                synth.noteoff(chan, pitch)
        synth.fill(audio[pos:])
    finally:
        if hasattr(synth, "close"):
            synth.close()
    return audio, last


def render(notes: Notes, *, soundfont: "str | os.PathLike | None" = None, sample_rate: int = 44100,
           backend: str = "auto", mono: bool = False, normalized: bool = True) -> np.ndarray:
    """Synthesize ``notes`` with a General MIDI soundfont.

    Parameters
    ----------
    notes : Notes
        Times follow the notes' tempo map; ``program`` picks the instrument (-1 = drums); repeats
        and endings are played (:meth:`~musicgate.music.notes.Notes.played`).
    soundfont : path, optional
        An ``.sf2`` file (default: :func:`default_soundfont`).
    sample_rate : int
        Output rate in Hz (8000-192000).
    backend : {"auto", "midirenderer", "tinysoundfont", "fluidsynth"}
        ``auto``: the first installed of midirenderer (a dependency), tinysoundfont, FluidSynth.
    mono : bool
        Average the two channels.
    normalized : bool
        Scale to a peak of :data:`PEAK` (0.99), so nothing clips.

    Returns
    -------
    np.ndarray
        float32 audio, shape (frames, 2) (left, right), or (frames,) when ``mono``. It lasts
        until the last note's release has decayed (at most :data:`TAIL_SECONDS` after it ends).

    Raises
    ------
    AudioError
        No notes, a missing or unreadable soundfont, a bad sample rate or backend.
    """
    sample_rate = _check_rate(sample_rate)
    if len(notes) == 0:
        raise AudioError("nothing to render: the notes are empty (a MIDI file with no notes)")
    notes = notes.played()  # repeats and endings unrolled
    seconds = float(notes.seconds(notes.end))
    if seconds > MAX_AUDIO_SECONDS:
        raise AudioError(f"the music lasts {seconds / 3600:,.1f} hours ({len(notes)} notes, the last at beat "
                         f"{float(notes.onset.max()):,.0f}); rendering is refused beyond {MAX_AUDIO_SECONDS / 60:.0f} "
                         "minutes; trim the file ('musicgate info' shows its length)")
    path = check_soundfont(soundfont)
    backend = resolve_backend(backend)
    if backend == "midirenderer":
        from musicgate.music import midirender

        audio, last = midirender.render(notes, path, sample_rate)
    else:
        audio, last = _stream(notes, _synth(backend, path, sample_rate), sample_rate)
    loud = np.flatnonzero(np.abs(audio[last:]).max(axis=1) > _SILENCE)
    end = last + (int(loud[-1]) + 1 if len(loud) else 0)
    audio = audio[: max(end, 1)]
    if mono:
        audio = audio.mean(axis=1)
    return normalize(audio) if normalized else audio


def write_wav(path: "str | os.PathLike", audio: np.ndarray, sample_rate: int) -> Path:
    """Write float audio ((frames,) or (frames, channels)) as 16-bit PCM WAV, atomically."""
    import soundfile

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            soundfile.write(str(tmp), np.clip(audio, -1.0, 1.0), int(sample_rate),
                            subtype="PCM_16", format="WAV")
    except (OSError, RuntimeError) as exc:
        raise AudioError(f"{path}: cannot write the WAV file ({exc}); check the folder") from None
    return path


def render_file(midi_path: "str | os.PathLike", wav_path: "str | os.PathLike | None" = None, *,
                soundfont: "str | os.PathLike | None" = None, sample_rate: int = 44100,
                backend: str = "auto") -> Path:
    """Render a MIDI file (drums included) to a WAV file; returns the WAV path.

    ``wav_path`` defaults to the MIDI path with the suffix ``.wav``. Raises
    :class:`~musicgate.errors.MidiError` for an unreadable MIDI and
    :class:`~musicgate.errors.AudioError` for one with no notes or a bad soundfont.
    """
    from musicgate.music.midi import read_midi

    midi_path = Path(midi_path)
    notes = read_midi(midi_path, drums=True)
    if len(notes) == 0:
        raise AudioError(f"{midi_path}: the MIDI file has no notes, so there is nothing to render")
    wav_path = midi_path.with_suffix(".wav") if wav_path is None else Path(wav_path)
    try:
        audio = render(notes, soundfont=soundfont, sample_rate=sample_rate, backend=backend)
    except AudioError as exc:
        if str(exc).startswith("the music lasts"):
            raise AudioError(f"{midi_path}: {exc}") from None
        raise
    return write_wav(wav_path, audio, sample_rate)
