"""The corpus registry: each corpus is one class that says where its files are and how to read them.

A corpus class names itself (``name``), says what it is and under which terms it comes
(``description``, ``licence``), which vocabulary suits it (``vocab``), lists its source files
(:meth:`Corpus.files`, whose names, sizes and contents make the cache fingerprint) and cuts them
into :class:`Item` s, one per tune (:meth:`Corpus.items`). Reading an item into :class:`Notes`
and labelling its key have defaults per file format (ABC, MusicXML, MIDI, piano roll) that a
corpus may override (:meth:`Corpus.read`, :meth:`Corpus.label`). A corpus that takes a path is
named ``NAME:PATH`` (``midi:../shared/midi``). Registering a class is all a new corpus needs::

    @register_corpus
    class Reels(Corpus):
        name, description, licence, vocab = "reels", "my reels", "mine", "melody"

        def files(self):
            return sorted(Path("reels").glob("*.abc"))

        def items(self, files):
            return [it for f in files for it in abc_tunes(f, self)]

``musicgate data prepare reels`` then parses, labels, tokenizes, splits and caches it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from musicgate.errors import DataError, MusicgateError
from musicgate.music.keys import Key
from musicgate.music.notes import Notes


@dataclass
class Item:
    """One unit of parsing work: a tune's ABC text, a file, or a piano roll.

    ``corpus`` is the name written in the manifest; ``origin`` the :class:`Corpus` that made the
    item and reads it (None: the registered corpus named ``corpus``).
    """

    source: str
    kind: str  # abc | musicxml | midi | roll
    corpus: str
    text: str = ""
    split: str = ""  # fixed split (piano rolls)
    roll: np.ndarray | None = None
    origin: Any = None


class Rejected(Exception):
    """An item that cannot be used; the message is the reason written in the manifest."""


class Corpus:
    """A source of tunes. Subclass, set the class attributes, define :meth:`files` and :meth:`items`,
    and :func:`register_corpus` it.

    Attributes
    ----------
    name : the registry name (``musicgate data prepare NAME``).
    description, licence : one line each for ``musicgate data prepare --help`` and the README.
    vocab : the default tokenizer, ``melody`` (one voice) or ``event`` (polyphonic).
    takes_path : named ``NAME:PATH``; ``path_hint`` shows the form of the path in help.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    vocab: ClassVar[str] = "event"
    takes_path: ClassVar[bool] = False
    path_hint: ClassVar[str] = "PATH"

    def __init__(self, path: "str | Path | None" = None) -> None:
        self.given = str(path) if path is not None else None
        self.path = Path(path).expanduser() if path is not None else None

    @property
    def spec(self) -> str:
        """``NAME`` or ``NAME:PATH``, as given to ``data prepare``."""
        return f"{self.name}:{self.given}" if self.takes_path else self.name

    def cache_name(self) -> str:
        """The folder name under ``datasets/`` (``midi-tunes`` for ``midi:some/tunes``)."""
        if not self.takes_path:
            return self.name
        return f"{self.name}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', self.path.stem or 'data')}"

    def files(self) -> list[Path]:
        """The files the corpus is read from (their names, sizes and contents make the fingerprint)."""
        raise NotImplementedError

    def items(self, files: list[Path]) -> list[Item]:
        """The tunes of ``files``, one :class:`Item` each, in a fixed order."""
        raise NotImplementedError

    def read(self, item: Item) -> tuple[Notes, Any, str]:
        """``(notes, music21 stream or None, title)`` of one item; :class:`Rejected` if unusable."""
        try:
            reader = _READERS[item.kind]
        except KeyError:
            raise Rejected(f"no reader for {item.kind!r} items; the corpus must define read()") from None
        return reader(item)

    def label(self, item: Item, notes: Notes, stream: Any = None) -> tuple[Key | None, str]:
        """The tune's key and how it was found (the file's own key: K: field, key signature, event)."""
        from musicgate.music.score import key_label

        key = key_label(stream) if stream is not None else notes.key
        found, missing = _KEY_SOURCES.get(item.kind, ("as read", "no key"))
        return key, found if key else missing

    def dance(self, item: Item) -> str | None:
        """The kind of tune (:data:`musicgate.music.meters.DANCE_LABELS`) an item is, recorded in the
        manifest: an ABC tune's ``R:`` field (``reel``, ``jig``...); None where it names none."""
        if item.kind != "abc":
            return None
        from musicgate.music.meters import dance_of

        field = re.search(r"^R:\s*(.*?)\s*$", item.text, re.M)
        return dance_of(field[1]) if field else None


CORPORA: dict[str, type[Corpus]] = {}
"""Registered corpus classes by name, in the order they were registered."""


def register_corpus(cls: type[Corpus]) -> type[Corpus]:
    """Add a corpus class to the registry (use as a class decorator); a name is registered once."""
    if not cls.name or ":" in cls.name:
        raise DataError(f"corpus class {cls.__name__} needs a name without ':'")
    if cls.name in CORPORA and CORPORA[cls.name] is not cls:
        raise DataError(f"corpus {cls.name!r} is registered already ({CORPORA[cls.name].__name__})")
    CORPORA[cls.name] = cls
    return cls


def corpus_specs() -> list[str]:
    """How each registered corpus is named: ``essen``, ..., ``midi:PATH``, ``pianoroll:PATH.mat``."""
    return [f"{c.name}:{c.path_hint}" if c.takes_path else c.name for c in CORPORA.values()]


def corpus_for(spec: "str | Corpus") -> Corpus:
    """The corpus named ``spec`` (``NAME`` or ``NAME:PATH``).

    Raises
    ------
    DataError
        No corpus has that name (the message lists the registered ones), or a path is missing or given
        to a corpus that takes none.
    """
    if isinstance(spec, Corpus):
        return spec
    name, sep, path = str(spec).partition(":")
    cls = CORPORA.get(name)
    if cls is None or cls.takes_path != bool(sep):
        raise DataError(f"unknown corpus {str(spec)!r}; valid: {', '.join(corpus_specs())}")
    return cls(path) if cls.takes_path else cls()


# -- readers by format ------------------------------------------------------------------------------
def _read_abc(item: Item) -> tuple[Notes, Any, str]:
    from musicgate.music.abc import read_abc

    try:
        tune = read_abc(item.text)
    except MusicgateError as exc:
        raise Rejected(str(exc).split(": ", 1)[1]) from None
    return tune.notes, None, tune.title


def _read_musicxml(item: Item) -> tuple[Notes, Any, str]:
    import music21

    from musicgate.music.score import from_music21

    try:
        stream = music21.converter.parse(item.text)
    except Exception as exc:  # music21 raises many kinds of errors on bad input
        raise Rejected(f"music21 cannot parse it ({type(exc).__name__})") from None
    if isinstance(stream, music21.stream.Opus):
        stream = stream.scores[0] if len(stream.scores) else stream
    title = (stream.metadata.title or "") if stream.metadata else ""
    return from_music21(stream), stream, title


def _read_midi(item: Item) -> tuple[Notes, Any, str]:
    from musicgate.music.midi import read_midi

    return read_midi(item.text), None, ""


def roll_to_notes(roll: np.ndarray, *, frame_beats: float = 1.0) -> Notes:
    """Notes from a (frames, 88) binary piano roll: a run of active frames on a key is one note.

    The benchmarks do not record the frame length; one frame is taken as ``frame_beats`` beats.
    """
    from musicgate.music.rolls import LOWEST_PITCH

    padded = np.pad(np.asarray(roll, np.int8), ((1, 1), (0, 0)))
    change = np.diff(padded, axis=0)
    on_t, on_k = np.nonzero(change.T == 1)[::-1]
    off_t, off_k = np.nonzero(change.T == -1)[::-1]
    order_on, order_off = np.lexsort((on_t, on_k)), np.lexsort((off_t, off_k))
    start, key = on_t[order_on], on_k[order_on]
    end = off_t[order_off]
    return Notes.from_arrays(key + LOWEST_PITCH, start * frame_beats, (end - start) * frame_beats)


_READERS = {"abc": _read_abc, "musicxml": _read_musicxml, "midi": _read_midi,
            "roll": lambda item: (roll_to_notes(item.roll), None, "")}
_KEY_SOURCES = {"abc": ("K: field (mode as written)", "no K: field"),
                "musicxml": ("key signature and mode of the score", "no key signature"),
                "midi": ("MIDI key-signature event", "unknown: no key-signature event")}


def abc_tunes(path: Path, corpus: "str | Corpus") -> list[Item]:
    """The tunes of an ABC file, one item each (``corpus``: the corpus, or its name)."""
    from musicgate.music.abc import split_tunes

    name, origin = (corpus.name, corpus) if isinstance(corpus, Corpus) else (corpus, None)
    return [Item(f"{path.parent.name}/{path.name}#{t.split(chr(10), 1)[0].strip()}", "abc", name, text=t,
                 origin=origin)
            for t in split_tunes(path.read_text(encoding="latin-1"))]


def mode_from_thirds(notes: Notes, tonic: int) -> tuple[str, str]:
    """Major or minor from whether the major or the minor third above ``tonic`` lasts longer."""
    pcs = notes.pitch % 12
    major = float(notes.duration[pcs == (tonic + 4) % 12].sum())
    minor = float(notes.duration[pcs == (tonic + 3) % 12].sum())
    mode = "major" if major > minor else "minor"
    return mode, f"major third {major:g} beats {'>' if major > minor else '<='} minor third {minor:g} beats"


# -- the built-in corpora ---------------------------------------------------------------------------
def _music21_corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


class _Music21Folk(Corpus):
    """A folder of ABC files in music21's bundled corpus."""

    folder: ClassVar[str] = ""
    vocab = "melody"
    licence = ("ships with music21's corpus (music21 claims no copyright in it); traditional tunes from a "
               "public-domain book")

    def files(self) -> list[Path]:
        return sorted((_music21_corpus_dir() / self.folder).glob("*.abc"))

    def items(self, files: list[Path]) -> list[Item]:
        return [it for f in files for it in abc_tunes(f, self)]


@register_corpus
class Essen(_Music21Folk):
    name, folder = "essen", "essenFolksong"
    description = "Essen folksong collection (Schaffrath; ABC by Seymour Schlien), ABC; mode from the thirds"
    licence = "non-commercial distribution and use, by permission (music21 corpus/essenFolksong/license.txt)"

    def dance(self, item: Item) -> str | None:
        """Every tune of the collection is a song (its ``R:`` fields name song genres)."""
        return "song"

    def label(self, item: Item, notes: Notes, stream: Any = None) -> tuple[Key | None, str]:
        key = notes.key
        if key is None:
            return None, "essen: no K: field"
        mode, why = mode_from_thirds(notes, key.tonic)  # K: names the tonic only
        return Key(key.tonic, mode), f"essen: tonic from K:, mode from thirds ({why}; ABC 2.1 accidentals)"


@register_corpus
class Oneills(_Music21Folk):
    name, folder = "oneills", "oneills1850"
    description = "O'Neill's Music of Ireland (1903), 1850 Irish tunes, ABC"


@register_corpus
class Ryans(_Music21Folk):
    name, folder = "ryans", "ryansMammoth"
    description = "Ryan's Mammoth Collection (1883), fiddle tunes, ABC"


FOLK_PARTS = (Essen, Oneills, Ryans)


@register_corpus
class Folk(Corpus):
    name, vocab = "folk", "melody"
    description = "essen, oneills and ryans together"
    licence = "the terms of its parts (essen: non-commercial use only)"

    def files(self) -> list[Path]:
        return [f for part in FOLK_PARTS for f in part().files()]

    def items(self, files: list[Path]) -> list[Item]:
        return [it for part in FOLK_PARTS for it in part().items([f for f in files if f.parent.name == part.folder])]


@register_corpus
class Chorales(Corpus):
    name = "chorales"
    description = "Bach chorales, MusicXML from music21's corpus; key from the key signature and mode of the score"
    licence = "ships with music21's corpus (music21 claims no copyright in it); the music is public domain"

    def files(self) -> list[Path]:
        import music21

        return sorted(Path(p) for p in music21.corpus.getComposer("bach")
                      if str(p).endswith((".mxl", ".xml", ".musicxml")))

    def items(self, files: list[Path]) -> list[Item]:
        return [Item(f"bach/{f.name}", "musicxml", self.spec, text=str(f), origin=self) for f in files]


@register_corpus
class MidiFolder(Corpus):
    name, takes_path = "midi", True
    description = "a folder of MIDI files (.mid, .midi), read recursively; key from key-signature events"
    licence = "your files: their own terms"

    def files(self) -> list[Path]:
        if not self.path.is_dir():
            raise DataError(f"{self.path}: not a folder; midi:PATH takes a folder of MIDI files")
        return sorted(p for p in self.path.rglob("*") if p.suffix.lower() in (".mid", ".midi"))

    def items(self, files: list[Path]) -> list[Item]:
        return [Item(str(f.relative_to(self.path)), "midi", self.spec, text=str(f), origin=self) for f in files]


@register_corpus
class PianoRoll(Corpus):
    name, takes_path, path_hint = "pianoroll", True, "PATH.mat"
    description = ("one of the four polyphonic benchmarks (Boulanger-Lewandowski et al. 2012) as a .mat of "
                   "piano rolls, with its own train/valid/test split; no keys")
    licence = "the benchmark files' terms (research use)"

    def files(self) -> list[Path]:
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file; pianoroll:PATH.mat takes one of the .mat files of the "
                            "polyphonic benchmarks (JSB_Chorales.mat, Nottingham.mat, MuseData.mat, Piano_midi.mat)")
        return [self.path]

    def items(self, files: list[Path]) -> list[Item]:
        from musicgate.music.rolls import SPLITS as ROLL_SPLITS, load_polyphonic

        data = load_polyphonic(str(files[0]))
        return [Item(f"{files[0].name}#{split}/{i}", "roll", self.spec, split=split, roll=roll, origin=self)
                for split in ROLL_SPLITS for i, roll in enumerate(data.split(split))]

    def label(self, item: Item, notes: Notes, stream: Any = None) -> tuple[Key | None, str]:
        return None, "unknown: piano rolls carry no key (the benchmark transposed pieces to C major/minor)"
