"""One entry point for reading music from any source a user names: :func:`load_notes`."""
from __future__ import annotations

import os
from pathlib import Path

from musicgate.errors import MidiError
from musicgate.music.notes import Notes
from musicgate.music.score import from_music21


def load_notes(source: "str | os.PathLike", *, drums: bool = False) -> Notes:
    """Notes from a MIDI file, an ABC file (its first tune, by :func:`musicgate.music.abc.read_abc`), any
    other file music21 reads (MusicXML, kern...), or
    ``corpus:NAME`` for a piece in music21's bundled corpus (``corpus:bach/bwv66.6``)."""
    from musicgate.music.midi import read_midi

    text = str(source)
    if text.lower().endswith((".mid", ".midi")):
        return read_midi(source, drums=drums)
    if text.lower().endswith(".abc") and Path(text).is_file():
        from musicgate.music.abc import read_abc, split_tunes

        abc_text = Path(text).read_text(encoding="latin-1")
        return read_abc((split_tunes(abc_text) or [abc_text])[0], name=text).notes  # the first tune
    import music21

    try:
        if text.startswith("corpus:"):
            stream = music21.corpus.parse(text[len("corpus:"):])
        else:
            from musicgate.files import require_file

            require_file(text, MidiError, "music file", "; give a MIDI, MusicXML or ABC file, or corpus:NAME")
            stream = music21.converter.parse(text)
    except MidiError:
        raise
    except Exception as exc:
        raise MidiError(f"{text}: music21 cannot read it ({type(exc).__name__}: {exc})") from None
    if isinstance(stream, music21.stream.Opus):
        stream = stream.scores[0]
    return from_music21(stream)
