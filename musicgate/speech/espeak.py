"""Offline speech synthesis with eSpeak NG through ctypes (for the synthetic spoken digits).

The engine is found in this order:

1. the ``espeakng-loader`` wheel (``pip install espeakng-loader``): it ships ``libespeak-ng.so``
   and its voice data, so pip alone is enough, no system package;
2. a system library found by ``ctypes.util.find_library("espeak-ng")`` (Debian:
   ``apt-get install espeak-ng`` or ``libespeak-ng1``), with its own data folder.

When neither is there, :func:`engine` raises :class:`~musicgate.errors.AudioError` saying how to
install one. The library keeps global state, so a process holds one :class:`ESpeak` (cached by
:func:`engine`). Its output is not bit-identical across processes or versions: callers that need
reproducible data cache what it produced together with :attr:`ESpeak.version`.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from pathlib import Path

import numpy as np

from musicgate.errors import AudioError

_SYNCHRONOUS = 2          # AUDIO_OUTPUT_SYNCHRONOUS
_POS_CHARACTER = 1
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER
_INSTALL_HINT = ("install eSpeak NG: `pip install espeakng-loader` (ships the library and voices) "
                 "or `apt-get install espeak-ng`")


def _locate() -> tuple[str, str | None]:
    """(library path, data path or None for the library's default)."""
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        lib = espeakng_loader.get_library_path()
        if os.path.isfile(lib):
            return lib, espeakng_loader.get_data_path()
    found = ctypes.util.find_library("espeak-ng")
    if found:
        return found, None
    raise AudioError(f"eSpeak NG is not available: {_INSTALL_HINT}")


class ESpeak:
    """A loaded eSpeak NG library in synchronous mode (one per process: use :func:`engine`).

    Attributes
    ----------
    version : str, e.g. "1.52.0 (espeakng-loader)".
    sample_rate : int, the engine's output rate (22050 Hz).
    data_path : Path of the voice data.
    """

    def __init__(self, library: str | None = None, data_path: str | None = None) -> None:
        if library is None:
            library, data_path = _locate()
        try:
            lib = ctypes.CDLL(library)
        except OSError as exc:
            raise AudioError(f"cannot load eSpeak NG from {library} ({exc}): {_INSTALL_HINT}") from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, data_path.encode() if data_path else None, 0)
        if rate <= 0:
            raise AudioError(f"eSpeak NG at {library} failed to start (data {data_path}): {_INSTALL_HINT}")
        path = ctypes.c_char_p()
        version = lib.espeak_Info(ctypes.byref(path)).decode()
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                         ctypes.c_void_p)
        self._callback = callback_type(self._collect)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self.sample_rate = int(rate)
        self.data_path = Path(path.value.decode() if path.value else (data_path or ""))
        source = "espeakng-loader" if data_path else "system"
        self.version = f"{version} ({source})"
        self.library = library

    def _collect(self, wav, n: int, _events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def variants(self) -> list[str]:
        """Names of the voice variants (``voices/!v``), sorted; used as ``voice+variant``."""
        folder = self.data_path / "voices" / "!v"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file() and " " not in p.name)

    def has_voice(self, name: str) -> bool:
        """True when ``name`` ("en-us", "en+m3"...) is a voice this engine can select."""
        return self._lib.espeak_SetVoiceByName(name.encode()) == 0

    def synth(self, text: str, *, voice: str = "en", variant: str | None = None, rate: int = 175,
              pitch: int = 50, pitch_range: int = 50) -> np.ndarray:
        """Speak ``text``.

        Parameters
        ----------
        voice : language voice ("en", "en-us", "en-gb-scotland"...).
        variant : voice variant ("m3", "f2", "whisper"...) or None.
        rate : words per minute (80-450). pitch, pitch_range : 0-100.

        Returns
        -------
        np.ndarray, shape (samples,), float32 in [-1, 1] at :attr:`sample_rate`.
        """
        name = voice if variant is None else f"{voice}+{variant}"
        if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise AudioError(f"eSpeak NG has no voice {name!r}; see `espeak-ng --voices` and variants()")
        for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
            self._lib.espeak_SetParameter(param, int(value), 0)
        self._chunks = []
        data = text.encode() + b"\0"
        err = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, 0, None, None)
        self._lib.espeak_Synchronize()
        if err != 0:
            raise AudioError(f"eSpeak NG failed on {text!r} with voice {name!r} (error {err})")
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return (np.concatenate(self._chunks).astype(np.float32) / 32768.0)


@functools.lru_cache(maxsize=1)
def engine() -> ESpeak:
    """The process's eSpeak NG engine (created on first use); AudioError when not installed."""
    return ESpeak()


def available() -> bool:
    """True when an eSpeak NG engine can be loaded."""
    try:
        engine()
    except AudioError:
        return False
    return True
