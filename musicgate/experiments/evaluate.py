"""The musicality report: generated tunes measured beside held-out real tunes, in one run.

:func:`load_pieces` reads MIDI or ABC files (a folder of ``musicgate generate`` output, or files; an
ABC file holds one tune per ``X:``) with the key each was asked in: ``--key``, else the JSON record
``generate`` writes beside its files, else the file's key signature (``K:`` in ABC). :func:`load_reference` reads the real tunes: the test split of a
prepared corpus (``folk``: held out from training) or a folder of MIDI files with keys.
:func:`evaluate` measures every tune with :mod:`musicgate.analysis.musicality` (the same code for
both sides), and summarises each set by its means with percentile bootstrap 95% intervals
(:func:`~musicgate.analysis.retention.bootstrap_mean_ci`, resampling tunes). :func:`write_report`
writes ``evaluate.md``, ``evaluate.json`` (every tune's values, the summary, the command and the
inputs) and ``evaluate.png`` atomically.

Each piece is measured as a melody: drums are left out and a polyphonic piece is reduced to its
highest line (``Notes.skyline``), as the melody vocabulary does when a corpus is prepared.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from musicgate.analysis.musicality import METRIC_NAMES, METRICS, measure_batch
from musicgate.errors import DataError, KeyNameError
from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.music.keys import DEFAULT_PROFILE, Key, parse_key, profile_name
from musicgate.music.notes import Notes

REFERENCE_LABEL = "real tunes"
DEFAULT_REFERENCE_TUNES = 200


@dataclass(frozen=True)
class Piece:
    """One tune to measure: its melody, the key it was asked in, and where both came from."""

    name: str
    notes: Notes
    key: Key
    key_source: str  # "--key", "json", "midi key signature" or "label"


@dataclass
class TuneSet:
    """A set of tunes measured together (a folder of generated tunes, or the reference)."""

    name: str
    pieces: list[Piece]
    source: dict = field(default_factory=dict)
    values: np.ndarray | None = None  # (n, P), columns in METRIC_NAMES order
    mean: np.ndarray | None = None
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    count: np.ndarray | None = None  # tunes with a value, per metric


@dataclass
class Evaluation:
    """What :func:`evaluate` measured: the generated sets and the reference."""

    sets: list[TuneSet]
    reference: TuneSet | None
    settings: dict
    warnings: list[str]
    seconds: float


# -- inputs ----------------------------------------------------------------------------------------
def melody(notes: Notes) -> Notes:
    """The melody a piece is measured on: drums left out, the highest line when notes overlap."""
    notes = notes.without_drums()
    if len(notes) < 2:
        return notes
    ends = notes.onset[:-1] + notes.duration[:-1]
    if np.all(notes.onset[1:] >= ends - 1e-9):
        return notes  # already one note at a time
    return notes.skyline()


def sidecar_keys(folder: Path) -> dict[str, Key]:
    """File name -> asked key from the JSON records ``musicgate generate`` writes in ``folder``
    (``{"key": ..., "files": [...]}``); other JSON files are ignored."""
    out: dict[str, Key] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or not isinstance(record.get("files"), list) or "key" not in record:
            continue
        try:
            key = parse_key(str(record["key"]))
        except KeyNameError:
            raise DataError(f"{path}: key {record['key']!r} is not a key name; fix the record or give --key") from None
        for name in record["files"]:
            out[str(name)] = key
    return out


def _input_files(path: Path) -> list[Path]:
    """The file ``path``, or a folder's MIDI files (sorted, in subfolders too), or its ABC files when it has
    no MIDI file (``generate --abc`` writes both; the MIDI files are then the ones read)."""
    from musicgate.analysis.analyze import MIDI_SUFFIXES, midi_files

    if not path.exists():
        raise DataError(f"{path}: no such file or folder; give a MIDI or ABC file or a folder of them")
    if not path.is_dir():
        return midi_files(path)
    found = sorted(p for p in path.rglob("*") if p.suffix.lower() in (*MIDI_SUFFIXES, ".abc") and p.is_file())
    midi = [p for p in found if p.suffix.lower() != ".abc"]
    if not found:
        raise DataError(f"{path}: no .mid, .midi or .abc files in this folder")
    return midi or found


def _key_of(path: Path, name: str, notes: Notes, key: Key | None, sidecar: dict[str, Key], written: str) -> tuple[Key, str]:
    """The asked key of a piece and where it came from: ``--key``, the JSON record, the file's own key."""
    if key is not None:
        return key, "--key"
    if path.name in sidecar:
        return sidecar[path.name], "json"
    if notes.key is not None:
        return notes.key, written
    raise DataError(f"{name}: no key to measure against; give --key, keep the JSON that "
                    "'musicgate generate' writes beside its files, or write a key signature")


def read_pieces(path: Path, key: Key | None, sidecar: dict[str, Key], *, name: str | None = None) -> list[Piece]:
    """The pieces of one file, each with its melody and asked key: a MIDI file is one piece, an ABC file
    one per tune (``X:``), read as played (repeats and endings unrolled, as a MIDI file holds a tune).

    Raises
    ------
    DataError
        A piece has no notes, only drum notes, or no key (no ``key``, no JSON record, no key signature
        or ``K:`` field).
    MidiError
        The file (or one of its tunes) cannot be read.
    """
    name = name or path.name
    if path.suffix.lower() == ".abc":
        from musicgate.music.abc import read_abc, split_tunes

        text = path.read_text(encoding="latin-1")
        tunes = split_tunes(text) or [text]
        pieces = []
        for i, tune in enumerate(tunes):
            label = name if len(tunes) == 1 else f"{name}#{i + 1}"
            notes = read_abc(tune, name=label).notes
            if len(notes) == 0:
                raise DataError(f"{label}: no notes; evaluate measures tunes, remove the empty tune")
            pieces.append(Piece(label, melody(notes.played()), *_key_of(path, label, notes, key, sidecar, "abc K: field")))
        return pieces
    from musicgate.music.midi import read_midi

    notes = read_midi(path, drums=True)
    if len(notes) == 0:
        raise DataError(f"{path}: no notes; evaluate measures tunes, remove the empty file")
    pitched = notes.without_drums()
    if len(pitched) == 0:
        raise DataError(f"{path}: only drum notes; evaluate measures melodies, leave drum-only files out")
    return [Piece(name, melody(pitched), *_key_of(path, str(path), notes, key, sidecar, "midi key signature"))]


def load_pieces(inputs: Sequence["str | os.PathLike"], *, key: "Key | str | None" = None) -> list[TuneSet]:
    """The tune sets to evaluate: one per folder in ``inputs``, one for the loose files together.

    Raises
    ------
    DataError
        No inputs, an empty folder, a file with no pitched notes or without a key.
    MidiError
        A file that is not readable MIDI.
    """
    if not inputs:
        raise DataError("nothing to evaluate; give a folder of MIDI files or MIDI files")
    asked = parse_key(key) if key is not None else None
    sets: list[TuneSet] = []
    loose: list[Piece] = []
    names: set[str] = set()
    records: dict[Path, dict[str, Key]] = {}

    def sidecar(folder: Path) -> dict[str, Key]:
        if asked is not None:
            return {}
        if folder not in records:
            records[folder] = sidecar_keys(folder)
        return records[folder]

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = _input_files(path)
            pieces = [p for f in files for p in read_pieces(f, asked, sidecar(f.parent), name=str(f.relative_to(path)))]
            name = path.resolve().name or str(path)
            while name in names:
                name += "'"
            names.add(name)
            sets.append(TuneSet(name, pieces, {"path": str(path)}))
        else:
            f = _input_files(path)[0]
            loose += read_pieces(f, asked, sidecar(f.parent))
    if loose:
        sets.append(TuneSet("files", loose, {"files": [str(Path(i)) for i in inputs if not Path(i).is_dir()]}))
    return sets


def load_reference(spec: str, *, root: "str | os.PathLike" = "datasets", tunes: int | None = DEFAULT_REFERENCE_TUNES,
                   seed: int = 0) -> TuneSet:
    """The real tunes to compare with.

    Parameters
    ----------
    spec : str
        A prepared corpus name under ``root`` (``folk``: its test split, held out from training),
        a prepared dataset folder, or a folder of MIDI files with keys (JSON records or key
        signatures).
    tunes : int or None
        Draw this many tunes of the test split at random (seeded); None or 0: all of them.

    Raises
    ------
    DataError
        The corpus is not prepared (the message says how to prepare it), or has no labelled tunes.
    """
    path = Path(spec)
    if path.is_dir() and not (path / "COMPLETE").is_file() and not (path / "manifest.json").is_file():
        pieces = load_pieces([path])[0].pieces
        return TuneSet(REFERENCE_LABEL, pieces, {"path": str(path), "kind": "midi folder"})
    from musicgate.experiments.retention_run import real_tunes

    folder = path if path.is_dir() else Path(root) / spec
    if path.is_dir() and not (folder / "COMPLETE").is_file():
        raise DataError(f"{folder}: an incomplete prepared dataset (no COMPLETE marker); prepare it again")
    if not (folder / "COMPLETE").is_file():
        opt = "" if Path(root) == Path("datasets") else f" --root {root}"
        raise DataError(f"{folder}: the {spec} corpus is not prepared; run 'musicgate data prepare {spec}{opt}' "
                        "first (about a minute), or give --reference a folder of MIDI files")
    notes, keys, info = real_tunes(str(folder), "test")
    index = np.arange(len(notes))
    if tunes and tunes < len(notes):
        index = np.sort(np.random.default_rng(seed).choice(len(notes), size=int(tunes), replace=False))
    # As played (repeats and endings unrolled), as a generated tune's MIDI file holds it.
    pieces = [Piece(f"test/{int(i)}", melody(notes[i].played()), keys[i], "label") for i in index]
    return TuneSet(REFERENCE_LABEL, pieces, {**info, "kind": "prepared corpus, test split, as played",
                                              "drawn": len(pieces), "draw_seed": seed})


# -- measuring -------------------------------------------------------------------------------------
def measure_set(tunes: TuneSet, *, window: int, profile: str, n_boot: int, seed: int) -> TuneSet:
    """Fill ``tunes.values`` and its means with bootstrap intervals."""
    from musicgate.analysis.retention import bootstrap_mean_ci

    rows = measure_batch([p.notes for p in tunes.pieces], [p.key for p in tunes.pieces], window=window,
                         profile=profile)
    values = np.array([[r[m] for m in METRIC_NAMES] for r in rows], np.float64).reshape(-1, len(METRIC_NAMES))
    tunes.values = values
    tunes.count = (~np.isnan(values)).sum(axis=0)
    tunes.mean, tunes.lo, tunes.hi = bootstrap_mean_ci(values, n_boot=n_boot, seed=seed)
    return tunes


def _set_warnings(tunes: TuneSet, window: int) -> list[str]:
    out = []
    n = len(tunes.pieces)
    col = {m: i for i, m in enumerate(METRIC_NAMES)}
    no_meter = sum(1 for p in tunes.pieces if not p.notes.meters)
    if no_meter:
        out.append(f"{tunes.name}: {no_meter} of {n} tunes have no time signature; their bar measures are NaN")
    short = int(np.sum(tunes.values[:, col["notes"]] < window))
    if short:
        out.append(f"{tunes.name}: {short} of {n} tunes are shorter than {window} notes; their windowed key is NaN")
    return out


def evaluate(inputs: Sequence["str | os.PathLike"], *, key: "Key | str | None" = None,
             reference: str | None = "folk", root: "str | os.PathLike" = "datasets",
             reference_tunes: int | None = DEFAULT_REFERENCE_TUNES, window: int = 32,
             profile: str = DEFAULT_PROFILE, n_boot: int = 1000, seed: int = 0) -> Evaluation:
    """Measure generated tunes and real tunes with the same code.

    Parameters
    ----------
    inputs : folders of MIDI files (one set each) or MIDI files (one set together)
    key : the asked key of every tune (default: from the JSON records or key signatures)
    reference : ``folk`` (a prepared corpus's test split), a folder of MIDI files, or None (no reference)
    root : where prepared corpora live
    reference_tunes : real tunes drawn at random (seeded), None or 0 for the whole test split
    window : notes per window of the windowed key
    profile : key profile of the key estimates
    n_boot, seed : bootstrap resamples and seed of the intervals (and of the reference draw)

    Returns
    -------
    Evaluation
    """
    start = time.perf_counter()
    profile = profile_name(profile)
    if window < 1:
        raise DataError(f"window must be a positive number of notes, not {window}")
    sets = load_pieces(inputs, key=key)
    ref = load_reference(reference, root=root, tunes=reference_tunes, seed=seed) if reference else None
    notes_msgs: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for s in sets + ([ref] if ref else []):
            measure_set(s, window=window, profile=profile, n_boot=n_boot, seed=seed)
            notes_msgs += _set_warnings(s, window)
    settings = {"key": parse_key(key).name if key is not None else None, "reference": reference,
                "reference_tunes": reference_tunes, "window": window, "profile": profile, "n_boot": n_boot,
                "seed": seed, "melody": "drums left out; overlapping notes reduced to the highest line"}
    return Evaluation(sets, ref, settings, notes_msgs, time.perf_counter() - start)


# -- output ----------------------------------------------------------------------------------------
def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _cell(tunes: TuneSet, i: int, *, ci: bool = True) -> str:
    m = METRICS[i]
    mean = tunes.mean[i]
    if math.isnan(mean):
        return "n/a"
    fmt = f"{{:.{m.digits}f}}"
    text = fmt.format(mean)
    if ci and not math.isnan(tunes.lo[i]):
        text += f" [{fmt.format(tunes.lo[i])}, {fmt.format(tunes.hi[i])}]"
    return text


def markdown_table(ev: Evaluation, *, ci: bool = True) -> str:
    """The report's table: one row per metric, the real tunes first, then each set (means with
    their bootstrap 95% intervals in brackets)."""
    cols = ([ev.reference] if ev.reference else []) + ev.sets
    head = "| measure | " + " | ".join(f"{c.name} ({len(c.pieces)})" for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = [f"| {m.label} | " + " | ".join(_cell(c, i, ci=ci) for c in cols) + " |" for i, m in enumerate(METRICS)]
    return "\n".join([head, rule, *rows])


BY_MODE = ("key_signature", "key_exact", "ends_on_tonic")
"""The measures that read the asked key, reported per mode of the asked key (:func:`by_mode`). For a
modal key the whole-piece key finder (24 major and minor keys) can match the signature (A dorian read as
G major or E minor) or the tonic and mode (read as A minor), never both, so the two are shown side by side."""


def by_mode(tunes: TuneSet) -> dict[str, dict]:
    """Per mode of the asked key (major, minor, dorian, ...), in :data:`~musicgate.music.keys.MODES`
    order: the tunes and the mean of each :data:`BY_MODE` measure (None where no tune has a value).
    A model asked for a mode it rarely saw (the folk corpus has 40 dorian tunes in 11,472) can keep
    the major and minor keys and miss that one; the overall mean hides it."""
    from musicgate.music.keys import MODES

    col = {m: i for i, m in enumerate(METRIC_NAMES)}
    modes = np.array([p.key.mode for p in tunes.pieces])
    out = {}
    for mode in MODES:
        rows = tunes.values[modes == mode]
        if len(rows):
            out[mode] = {"tunes": len(rows), **{m: _num(float(np.nanmean(rows[:, col[m]])))
                                               if np.isfinite(rows[:, col[m]]).any() else None for m in BY_MODE}}
    return out


def by_mode_table(ev: Evaluation) -> str:
    """The report's second table: same signature / same tonic and mode / ends on the tonic, per mode of
    the asked key."""
    cols = ([ev.reference] if ev.reference else []) + ev.sets
    found = [by_mode(c) for c in cols]
    modes = list(dict.fromkeys(k for f in found for k in f))
    head = "| asked mode | " + " | ".join(c.name for c in cols) + " |"
    rows = []
    for mode in modes:
        cells = []
        for f in found:
            r = f.get(mode)
            cells.append("-" if r is None else " / ".join("n/a" if r[m] is None else f"{r[m]:.2f}" for m in BY_MODE)
                         + f" ({r['tunes']})")
        rows.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join([head, "|---|" + "---:|" * len(cols), *rows])


def _set_record(tunes: TuneSet) -> dict:
    summary = {m: {"mean": _num(tunes.mean[i]), "lo": _num(tunes.lo[i]), "hi": _num(tunes.hi[i]),
                   "tunes": int(tunes.count[i])} for i, m in enumerate(METRIC_NAMES)}
    per_tune = [{"name": p.name, "key": p.key.name, "key_source": p.key_source,
                 "meter": "/".join(map(str, p.notes.meter)) if p.notes.meter else None,
                 **{m: _num(v) for m, v in zip(METRIC_NAMES, row.tolist())}}
                for p, row in zip(tunes.pieces, tunes.values)]
    sources: dict[str, int] = {}
    for p in tunes.pieces:
        sources[p.key_source] = sources.get(p.key_source, 0) + 1
    return {"name": tunes.name, "tunes": len(tunes.pieces), "source": tunes.source, "key_sources": sources,
            "summary": summary, "by_mode": by_mode(tunes), "per_tune": per_tune}


def report_json(ev: Evaluation, *, command: str = "") -> dict:
    """Everything measured, as the ``evaluate.json`` record."""
    return {"command": command, "settings": ev.settings,
            "metrics": [{"name": m.name, "label": m.label, "share": m.share} for m in METRICS],
            "reference": _set_record(ev.reference) if ev.reference else None,
            "sets": [_set_record(s) for s in ev.sets], "warnings": ev.warnings,
            "seconds": round(ev.seconds, 3)}


def report_markdown(ev: Evaluation, *, command: str = "") -> str:
    """The ``evaluate.md`` text: the table, how it was made, and the warnings."""
    ref = ev.reference
    lines = ["# Musicality report", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [markdown_table(ev), ""]
    labels = {m.name: m.label for m in METRICS}
    lines += [f"By the mode of the asked key: {' / '.join(labels[m] for m in BY_MODE)} (tunes):", "",
              by_mode_table(ev), ""]
    if ref is not None:
        src = ref.source
        where = src.get("dataset") or src.get("path")
        lines.append(f"Real tunes: {len(ref.pieces)} tunes from {where} ({src.get('kind', '')}), measured in "
                     "the same run with the same code. Every set is measured as played (repeats and endings "
                     "unrolled), as MIDI files hold the music.")
    lines.append(f"Means over tunes with percentile bootstrap 95% intervals ({ev.settings['n_boot']} resamples "
                 f"of whole tunes, seed {ev.settings['seed']}); keys estimated with the "
                 f"{ev.settings['profile']} profile, windows of {ev.settings['window']} notes. "
                 "n/a: nothing to measure (no time signature, or tunes too short).")
    if ev.warnings:
        lines += ["", "Warnings:", *[f"- {w}" for w in ev.warnings]]
    return "\n".join(lines) + "\n"


def default_output(inputs: Sequence["str | os.PathLike"]) -> Path:
    """``DIR/evaluate`` for one folder; else ``evaluate`` in the folder the inputs share."""
    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0] / "evaluate"
    parents = [p if p.is_dir() else p.parent for p in paths]
    common = Path(os.path.commonpath([str(p.resolve()) for p in parents])) if parents else Path(".")
    return common / "evaluate"


def reference_range(tunes: TuneSet, q: tuple[float, float] = (0.1, 0.9)) -> tuple[np.ndarray, np.ndarray]:
    """Per metric, the ``q`` quantiles of the tunes' own values (the spread of real tunes); NaN for
    yes-or-no metrics, whose per-tune values are only 0 and 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(tunes.values, q, axis=0) if len(tunes.values) else (
            np.full(len(METRICS), np.nan), np.full(len(METRICS), np.nan))
    binary = np.array([m.binary for m in METRICS])
    return np.where(binary, np.nan, lo), np.where(binary, np.nan, hi)


def write_report(ev: Evaluation, outdir: "str | os.PathLike", *, command: str = "", plot: bool = True) -> dict[str, Path]:
    """Write ``evaluate.md``, ``evaluate.json`` and ``evaluate.png`` into ``outdir`` (atomically)."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise DataError(f"{outdir}: exists and is not a folder; give another -o folder")
    written = {"markdown": atomic_write_text(outdir / "evaluate.md", report_markdown(ev, command=command)),
               "json": atomic_write_json(outdir / "evaluate.json", report_json(ev, command=command))}
    if plot:
        from musicgate.viz.musicality import SetSummary, plot_musicality

        summaries = [SetSummary(s.name, len(s.pieces), s.mean, s.lo, s.hi) for s in ev.sets]
        ref = None
        if ev.reference is not None:
            r = ev.reference
            ref = SetSummary(r.name, len(r.pieces), r.mean, r.lo, r.hi, *reference_range(r))
        written["png"] = plot_musicality(summaries, outdir / "evaluate.png", reference=ref,
                                         title=f"Musicality: {', '.join(s.name for s in ev.sets)}")
    return written

