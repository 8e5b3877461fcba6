"""Key analysis of MIDI files: estimated key, in-signature rate, windowed key track (pictures:
:mod:`musicgate.viz.keys`).

The library side of ``musicgate analyze``: :func:`analyze_notes` works on :class:`Notes`,
:func:`analyze_path` on a MIDI file or a folder of them, and :func:`write_report` writes the
summary CSV and JSON, a key-track CSV per file and a PNG per file (piano roll with out-of-key
notes marked, key-confidence strip below).
"""
from __future__ import annotations

import csv
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from musicgate.errors import DataError, MidiError
from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.analysis.keyfind import WindowedKeys, estimate_key, windowed_keys
from musicgate.music.keys import (DEFAULT_PROFILE, MAJOR_MINOR_KEYS, InSignatureRate, Key,
                   in_signature_rate, key_index, parse_key, profile_name, to_major_minor)
from musicgate.music.notes import Notes

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class KeyAnalysis:
    """What ``musicgate analyze`` reports about one piece.

    Attributes
    ----------
    name : str
        File name (or any label).
    notes : Notes
        The notes analysed (drums left out).
    key : Key or None
        Estimated key of the whole piece (None without notes).
    correlation : float
        Its correlation with the profile.
    file_key : Key or None
        The piece's own first key signature, if any.
    target : Key or None
        The key the in-signature rate and key agreement are measured against: the given key,
        else the estimated one.
    in_signature : InSignatureRate
        Share of notes in the target's signature, by count and by duration.
    windows : WindowedKeys
        The windowed key track.
    window_agreement : float
        Share of windows whose key is the target (a modal target counts as the major or minor
        key with its third, see :func:`~musicgate.music.keys.to_major_minor`; NaN without windows).
    profile, window, stride, unit
        The settings used.
    """

    name: str
    notes: Notes
    key: Key | None
    correlation: float
    file_key: Key | None
    target: Key | None
    in_signature: InSignatureRate
    windows: WindowedKeys
    window_agreement: float
    profile: str
    window: float
    stride: float
    unit: str

    def summary(self) -> dict:
        """One flat row for the summary CSV and JSON."""
        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else round(float(x), 6)

        return {
            "file": self.name, "notes": len(self.notes),
            "key": self.key.name if self.key else None, "correlation": num(self.correlation),
            "file_key": self.file_key.name if self.file_key else None,
            "target_key": self.target.name if self.target else None,
            "in_signature_by_count": num(self.in_signature.by_count),
            "in_signature_by_duration": num(self.in_signature.by_duration),
            "windows": int(self.windows.valid.sum()),
            "window_agreement": num(self.window_agreement),
            "profile": self.profile, "window": self.window, "stride": self.stride, "unit": self.unit,
        }

    def key_track(self) -> list[dict]:
        """One row per window: start and end note, start beat, key and correlation."""
        w = self.windows
        return [{"start": int(s), "end": int(e), "beat": None if np.isnan(t) else round(float(t), 6),
                 "key": MAJOR_MINOR_KEYS[k].name if k >= 0 else None,
                 "correlation": None if np.isnan(c) else round(float(c), 6)}
                for s, e, t, k, c in zip(w.start, w.end, w.time, w.key, w.correlation)]


MAX_BEAT_WINDOWS = 2**15
"""At most this many beat windows per piece (``unit="beats"``): the count grows with the span."""


def analyze_notes(notes: Notes, *, name: str = "", key: "str | Key | None" = None,
                  window: float = 32, stride: float = 1, unit: str = "notes",
                  profile: str = DEFAULT_PROFILE) -> KeyAnalysis:
    """Key, in-signature rate and windowed key track of one piece.

    Parameters
    ----------
    notes : Notes
        The piece; drum notes (program -1) are ignored.
    key : Key or str, optional
        Measure the in-signature rate and key agreement against this key (default: the
        estimated key).
    window, stride, unit, profile
        As in :func:`~musicgate.analysis.keyfind.windowed_keys`.

    Returns
    -------
    KeyAnalysis
        NaN metrics (and a warning) when there are no pitched notes.
    """
    profile = profile_name(profile)
    target_given = parse_key(key) if key is not None else None
    notes = notes.select(notes.program >= 0) if len(notes) else notes
    if unit == "beats":
        from musicgate.music.midi import check_span

        check_span(notes, name or "piece", f"a key track in {stride:g}-beat steps",
                   max_beats=MAX_BEAT_WINDOWS * stride)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est = estimate_key(notes.pitch, notes.duration, profile=profile)
        wk = windowed_keys(notes.pitch, notes.duration, notes.onset, window=window,
                           stride=stride, unit=unit, profile=profile)
        target = target_given or est.key
        if target is None or len(notes) == 0:
            rate = InSignatureRate(float("nan"), float("nan"))
        else:
            rate = in_signature_rate(notes.pitch, target, notes.duration)
    if len(notes) == 0:
        warnings.warn(f"{name or 'piece'}: no pitched notes; key and rates are NaN",
                      RuntimeWarning, stacklevel=2)
    agreement = float("nan")
    if target is not None and wk.valid.any():
        agreement = float(np.mean(wk.key[wk.valid] == key_index(to_major_minor(target))))
    return KeyAnalysis(name, notes, est.key, est.correlation, notes.key, target, rate, wk,
                       agreement, profile, window, stride, unit)


def midi_files(path: "str | os.PathLike") -> list[Path]:
    """The MIDI file ``path``, or every MIDI file under the folder ``path`` (sorted).

    Raises
    ------
    DataError
        If the path does not exist or the folder holds no ``.mid``/``.midi`` file.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder; give a MIDI file or a folder of them")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{path}: no .mid or .midi files in this folder")
    return files


def analyze_path(path: "str | os.PathLike", *,
                 on_error: "Callable[[Path, MidiError], None] | None" = None,
                 **kwargs) -> Iterator[KeyAnalysis]:
    """Analyse a MIDI file or every MIDI file in a folder (yields one result per file).

    Parameters
    ----------
    path : path
        A MIDI file or a folder searched recursively.
    on_error : callable, optional
        Called with (file, error) for an unreadable file, which is then skipped; without it
        the :class:`~musicgate.errors.MidiError` is raised.
    **kwargs
        Those of :func:`analyze_notes`.
    """
    from musicgate.music.midi import read_midi

    root = Path(path)
    for f in midi_files(root):
        name = str(f.relative_to(root)) if root.is_dir() else f.name
        try:
            notes = read_midi(f)
        except MidiError as exc:
            if on_error is None:
                raise
            on_error(f, exc)
            continue
        yield analyze_notes(notes, name=name, **kwargs)


# -- output -----------------------------------------------------------------------------------
def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows([{k: ("" if v is None else v) for k, v in r.items()} for r in rows])
    return buf.getvalue()


def _stem(name: str) -> str:
    return Path(name).with_suffix("").as_posix().replace("/", "__") or "piece"


def write_report(results: Iterable[KeyAnalysis], outdir: "str | os.PathLike", *,
                 plot: Callable[[KeyAnalysis, Path], Path] | None = None) -> dict[str, Path]:
    """Write ``summary.csv``, ``summary.json``, ``<file>.keys.csv`` and, with ``plot`` (for example
    :func:`musicgate.viz.keys.plot_analysis`), ``<file>.png`` per file.

    Returns
    -------
    dict
        Paths written: ``summary_csv``, ``summary_json``, and one key per file.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    results = list(results)
    written: dict[str, Path] = {}
    for res in results:
        stem = _stem(res.name)
        written[f"{res.name}:keys"] = atomic_write_text(outdir / f"{stem}.keys.csv",
                                                        _csv_text(res.key_track()))
        if plot is not None:
            written[f"{res.name}:png"] = plot(res, outdir / f"{stem}.png")
    summary = [r.summary() for r in results]
    written["summary_csv"] = atomic_write_text(outdir / "summary.csv", _csv_text(summary))
    written["summary_json"] = atomic_write_json(
        outdir / "summary.json",
        [dict(s, key_track=r.key_track()) for s, r in zip(summary, results)])
    return written
