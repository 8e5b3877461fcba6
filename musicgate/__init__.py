"""musicgate: music with gated recurrent networks, and measurements of what the gates buy.

The public API, re-exported. Torch is imported only when a model is built or loaded.
"""
from __future__ import annotations

from musicgate.errors import (AudioError, CheckpointError, ConfigError, DataError, KeyNameError, MidiError,
                              MusicgateError, ParameterError, RunFailure, TokenizerError)
from musicgate.music.abc import read_abc
from musicgate.music.abcwrite import to_abc, write_abc
from musicgate.music.keys import MAJOR_MINOR_KEYS, MODES, Key, parse_key
from musicgate.music.midi import from_pretty_midi, read_midi, to_pretty_midi, write_midi
from musicgate.music.notes import Notes
from musicgate.generation.api import generate  # the function; torch loads on first use
from musicgate.nn.hub import load_model
from musicgate.tokens.tokenizer import EventTokenizer, MelodyTokenizer, Tokenizer, load_tokenizer, make_tokenizer

__version__ = "0.1.0"


__all__ = [
    "generate", "load_model",
    "Notes", "read_midi", "write_midi", "from_pretty_midi", "to_pretty_midi", "read_abc", "to_abc", "write_abc",
    "Key", "parse_key", "MODES", "MAJOR_MINOR_KEYS",
    "Tokenizer", "MelodyTokenizer", "EventTokenizer", "make_tokenizer", "load_tokenizer",
    "MusicgateError", "MidiError", "TokenizerError", "KeyNameError", "ConfigError", "DataError", "ParameterError",
    "CheckpointError", "AudioError", "RunFailure",
]
