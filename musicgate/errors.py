"""One exception family for musicgate.

Every error a user can cause is a :class:`MusicgateError` whose message names the file or value
and says what to do. The CLI prints it as one line and exits with ``exit_code`` (2 for bad input,
1 for a run that failed).
"""
from __future__ import annotations


class MusicgateError(Exception):
    """Base class of all musicgate errors (bad input unless a subclass says otherwise)."""

    exit_code = 2


class ParameterError(MusicgateError, ValueError):
    """A function argument that cannot be used: an array of the wrong shape, a value out of range."""


class MidiError(MusicgateError):
    """A MIDI file or byte string that cannot be read or written."""


class TokenizerError(MusicgateError, ValueError):
    """Notes or token ids that a vocabulary cannot represent."""


class KeyNameError(MusicgateError, ValueError):
    """A key, mode or profile name that is not understood."""


class ConfigError(MusicgateError, ValueError):
    """A config file, key or value that is not valid."""


class DataError(MusicgateError):
    """A corpus, dataset cache or data file that is missing or not valid."""


class CheckpointError(MusicgateError):
    """A file that is not a usable musicgate checkpoint."""


class AudioError(MusicgateError):
    """Audio or a soundfont that cannot be read, rendered or written."""


class RunFailure(MusicgateError):
    """A run that failed on good input (a NaN loss, for example)."""

    exit_code = 1


class OutputError(MusicgateError):
    """An output file or folder that cannot be written, or a name that would escape its folder."""


class BusyError(MusicgateError):
    """A run or cache that another live process is using (its lock file names the process)."""
