"""The four polyphonic piano-roll benchmarks (Boulanger-Lewandowski et al. 2012).

JSB Chorales, Nottingham, MuseData and Piano-midi.de, as the ``.mat`` files distributed with
Bai, Kolter and Koltun (2018): ``traindata`` / ``validdata`` / ``testdata``, each a 1 x N cell
array of (frames x 88) binary rolls over MIDI pitches 21-108, with fixed splits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgate.errors import DataError

N_PIANO_KEYS = 88
LOWEST_PITCH = 21  # column 0 is MIDI pitch 21 (A0)
DATASETS = {"jsb": "JSB_Chorales.mat", "nottingham": "Nottingham.mat",
            "musedata": "MuseData.mat", "pianomidi": "Piano_midi.mat"}
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class PianoRollDataset:
    """One benchmark: lists of (frames, 88) uint8 rolls per split.

    Attributes
    ----------
    name : str
        ``jsb``, ``nottingham``, ``musedata``, ``pianomidi`` (or the file stem for another file).
    path : Path
    train, valid, test : list of ndarray (T_i, 88), uint8 in {0, 1}
    """

    name: str
    path: Path
    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]

    def split(self, name: str) -> list[np.ndarray]:
        """The pieces of split ``train``, ``valid`` or ``test``."""
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}: use one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def frames(self, name: str) -> int:
        """Total frames in a split."""
        return int(sum(len(p) for p in self.split(name)))


def default_data_dir() -> Path:
    """``../shared/polyphonic`` from the working directory, else beside this checkout."""
    here = Path("../shared/polyphonic")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "shared" / "polyphonic"


def dataset_path(dataset: str, data_dir: str | Path | None = None) -> Path:
    """Path of a benchmark's ``.mat`` file; ``dataset`` is a name in DATASETS or a file path."""
    if dataset in DATASETS:
        return Path(data_dir if data_dir is not None else default_data_dir()) / DATASETS[dataset]
    if dataset.endswith(".mat"):
        return Path(dataset)
    raise DataError(f"unknown polyphonic dataset {dataset!r}: use one of {', '.join(DATASETS)} "
                    "or a path to a .mat file")


def _check_piece(piece: object, where: str) -> np.ndarray:
    if not isinstance(piece, np.ndarray) or piece.ndim != 2 or piece.shape[1] != N_PIANO_KEYS:
        shape = getattr(piece, "shape", type(piece).__name__)
        raise DataError(f"{where} is not a (frames x {N_PIANO_KEYS}) piano roll (got {shape}): "
                        "is this one of the Boulanger-Lewandowski .mat files?")
    if piece.shape[0] < 2:
        raise DataError(f"{where} has {piece.shape[0]} frame(s); a piece needs at least 2")
    if piece.dtype != np.uint8:
        if not np.isin(piece, (0, 1)).all():
            raise DataError(f"{where} holds values other than 0 and 1: not a binary piano roll")
        piece = piece.astype(np.uint8)
    elif piece.max() > 1:
        raise DataError(f"{where} holds values other than 0 and 1: not a binary piano roll")
    return np.ascontiguousarray(piece)


def load_polyphonic(dataset: str, *, data_dir: str | Path | None = None) -> PianoRollDataset:
    """Load one benchmark with its fixed train / valid / test splits.

    Parameters
    ----------
    dataset : str
        ``jsb``, ``nottingham``, ``musedata``, ``pianomidi``, or a path to a ``.mat`` file.
    data_dir : path, optional
        Folder of the four files (default :func:`default_data_dir`).

    Raises
    ------
    DataError
        The file is missing, unreadable, or not a piano-roll benchmark.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = dataset_path(dataset, data_dir)
    if not path.is_file():
        raise DataError(f"{path} not found: pass --data-dir with the folder holding "
                        f"{', '.join(DATASETS.values())}")
    try:
        mat = loadmat(path)
    except (MatReadError, ValueError, OSError, TypeError) as exc:
        raise DataError(f"{path} is not a readable .mat file ({exc})") from exc
    splits = {}
    for split in SPLITS:
        key = f"{split}data"
        if key not in mat:
            raise DataError(f"{path} has no {key!r} array: expected traindata, validdata, testdata")
        cells = np.asarray(mat[key])
        if cells.dtype != object or cells.ndim != 2 or cells.shape[0] != 1 or cells.shape[1] == 0:
            raise DataError(f"{path}: {key!r} is not a 1 x N cell array of piano rolls")
        splits[split] = [_check_piece(p, f"{path.name} {key}[{i}]") for i, p in enumerate(cells[0])]
    name = dataset if dataset in DATASETS else path.stem
    return PianoRollDataset(name=name, path=path, **splits)
