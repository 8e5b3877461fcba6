"""Labelled tunes from music21's corpus, with music21's own key estimates, cached as ``.npz``.

Shared by ``benchmarks/key_accuracy.py`` and ``benchmarks/keys.py``. Parsing the ~11,000 tunes
(Essen, O'Neill's, the Bach chorales) and running music21's analyzer with six profiles on each
takes several minutes, so it runs once in parallel and the arrays are cached::

    nice -n 10 .venv/bin/python benchmarks/key_corpus.py --workers 2

Each cache holds, per tune: the pitches (MIDI numbers) and quarter-length durations exactly as
music21's key analyzer reads them (every pitch of every note or chord in ``flatten().notes``),
the labelled tonic (pitch class, -1 when absent), the labelled mode (text, "" when absent), the
pitch class of the last note (the bass of the last chord for the chorales), and music21's key
(index 0-23 as in ``MAJOR_MINOR_KEYS``) and correlation for each profile.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pickle
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE_DIR = Path(__file__).resolve().parents[1] / "datasets" / "keycache"
CORPORA = ("essen", "oneills", "bach")
# our profile name -> music21 analysis class name (None: a subclass built here)
M21_PROFILES = {
    "krumhansl-kessler": "KrumhanslSchmuckler",
    "temperley-kostka-payne": "TemperleyKostkaPayne",
    "aarden-essen": "AardenEssen",
    "bellman-budge": "BellmanBudge",
    "albrecht-shanahan": None,
    "sapp-simple": "SimpleWeights",
}
_AS_MAJOR = [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]
_AS_MINOR = [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]


def corpus_files(name: str) -> list[str]:
    """The music21 corpus files of one corpus (Essen without han1/han2)."""
    from music21 import corpus

    paths = [str(p) for p in corpus.getPaths()]
    if name == "essen":
        return sorted(p for p in paths if "essenFolksong" in p
                      and not re.search(r"han[12]\.abc$", p))
    if name == "oneills":
        return sorted(p for p in paths if "oneills1850" in p)
    if name == "bach":
        return sorted(p for p in paths if re.search(r"[/\\]bach[/\\]bwv[^/\\]*\.mxl$", p))
    raise SystemExit(f"unknown corpus {name!r}; valid: {', '.join(CORPORA)}")


def _analyzers(names: tuple[str, ...] = tuple(M21_PROFILES)) -> dict:
    from music21.analysis import discrete

    class AlbrechtShanahan(discrete.KeyWeightKeyAnalysis):
        """Albrecht-Shanahan weights in music21's analyzer (music21 does not ship them)."""

        def getWeights(self, weightType="major"):
            return list(_AS_MAJOR if weightType.lower() == "major" else _AS_MINOR)

    return {name: (AlbrechtShanahan if cls is None else getattr(discrete, cls))
            for name, cls in M21_PROFILES.items() if name in names}


def _label(score, corpus_name: str) -> tuple[int, str]:
    from music21 import key

    keys = list(score.recurse().getElementsByClass(key.KeySignature))
    if not keys:
        return -1, ""
    k = keys[0]
    if isinstance(k, key.Key):
        if corpus_name == "essen":  # Essen's K: field names the tonic only
            return k.tonic.pitchClass, ""
        return k.tonic.pitchClass, str(k.mode)
    return -1, ""


def _tune_record(score, corpus_name: str, analyzers: dict) -> dict:
    from music21 import harmony, note

    flat = score.flatten()
    notes = flat.notesAndRests.getElementsNotOfClass(note.Unpitched).notes
    pitch, dur = [], []
    for n in notes:
        for p in n.pitches:
            pitch.append(int(round(p.ps)))
            dur.append(float(n.quarterLength))
    last_pc = -1
    real = [n for n in notes if not isinstance(n, harmony.ChordSymbol)]
    if real:  # lowest pitch sounding at the last onset (the bass of the final chord)
        last_off = max(n.offset for n in real)
        final = [p for n in real if n.offset == last_off for p in n.pitches]
        last_pc = min(final, key=lambda p: p.ps).pitchClass
    tonic, mode = _label(score, corpus_name)
    m21 = {name: (-2, float("nan")) for name in M21_PROFILES}  # -2: not run
    for name, cls in analyzers.items():
        if not pitch:
            m21[name] = (-1, float("nan"))
            continue
        k = cls().getSolution(flat)
        m21[name] = (k.tonic.pitchClass + (12 if k.mode == "minor" else 0),
                     float(k.correlationCoefficient))
    title = score.metadata.title if score.metadata is not None and score.metadata.title else ""
    return {"pitch": pitch, "dur": dur, "tonic": tonic, "mode": mode, "last_pc": last_pc,
            "m21": m21, "title": str(title)}


def _parse_file(args: tuple[str, str, tuple[str, ...]]) -> tuple[str, list[dict], list[str]]:
    path, corpus_name, m21_names = args
    from music21 import converter, stream

    analyzers = _analyzers(m21_names)
    errors: list[str] = []
    try:
        parsed = converter.parse(path)
    except Exception as exc:  # report, never hide: the file is listed in the output
        return path, [], [f"{path}: {type(exc).__name__}: {exc}"]
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    records = []
    for i, score in enumerate(scores):
        try:
            rec = _tune_record(score, corpus_name, analyzers)
        except Exception as exc:
            errors.append(f"{path} tune {i}: {type(exc).__name__}: {exc}")
            continue
        rec["source"] = f"{Path(path).name}#{i}"
        records.append(rec)
    return path, records, errors


def _part_path(cache_dir: Path, name: str, path: str) -> Path:
    return cache_dir / "parts" / name / (Path(path).name + ".pkl")


def build_cache(name: str, *, workers: int = 2, limit_files: int | None = None,
                cache_dir: Path = CACHE_DIR, m21: tuple[str, ...] | None = None,
                only: str | None = None) -> Path:
    """Parse one corpus with ``workers`` processes and write ``<cache_dir>/<name>.npz``.

    Each parsed file is kept in ``<cache_dir>/parts/<name>/`` as it finishes, so a stopped
    build resumes where it was. ``m21`` names the profiles music21's analyzer runs with
    (default: Aarden-Essen, music21's ``analyze('key')``); keys not run are stored as -2.
    """
    m21 = ("aarden-essen",) if m21 is None else tuple(m21)
    files = [f for f in corpus_files(name) if only is None or only in Path(f).name][:limit_files]
    files.sort(key=lambda p: os.path.getsize(p))  # small files first: partial results early
    todo = [f for f in files if not _part_path(cache_dir, name, f).exists()]
    t0 = time.perf_counter()
    if todo:
        (cache_dir / "parts" / name).mkdir(parents=True, exist_ok=True)
        with mp.get_context("spawn").Pool(workers) as pool:
            for k, (path, recs, errs) in enumerate(
                    pool.imap_unordered(_parse_file, [(f, name, m21) for f in todo]), 1):
                for e in errs:
                    print("  skipped:", e, file=sys.stderr)
                part = _part_path(cache_dir, name, path)
                fd, tmp = tempfile.mkstemp(dir=part.parent, suffix=".tmp")
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(recs, fh)
                os.replace(tmp, part)
                print(f"  {name}: {k}/{len(todo)} files, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr)
    return _assemble(name, files, cache_dir, complete=only is None and limit_files is None)


def _assemble(name: str, files: list[str], cache_dir: Path, *, complete: bool) -> Path:
    records = []
    for f in sorted(files):
        part = _part_path(cache_dir, name, f)
        if part.exists():
            with open(part, "rb") as fh:
                records.extend(pickle.load(fh))
    lengths = np.array([len(r["pitch"]) for r in records], dtype=np.int64)
    arrays = {
        "pitch": np.array([x for r in records for x in r["pitch"]], dtype=np.int16),
        "duration": np.array([x for r in records for x in r["dur"]], dtype=np.float64),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "label_tonic": np.array([r["tonic"] for r in records], dtype=np.int16),
        "label_mode": np.array([r["mode"] for r in records], dtype=str),
        "last_pc": np.array([r["last_pc"] for r in records], dtype=np.int16),
        "source": np.array([r["source"] for r in records], dtype=str),
        "title": np.array([r["title"] for r in records], dtype=str),
        "m21_profiles": np.array(list(M21_PROFILES), dtype=str),
        "m21_key": np.array([[r["m21"][p][0] for p in M21_PROFILES] for r in records],
                            dtype=np.int16).reshape(len(records), len(M21_PROFILES)),
        "m21_corr": np.array([[r["m21"][p][1] for p in M21_PROFILES] for r in records],
                             dtype=np.float64).reshape(len(records), len(M21_PROFILES)),
        "files_done": np.array(sum(_part_path(cache_dir, name, f).exists() for f in files)),
        "files_total": np.array(len(files)),
    }
    out = cache_dir / (f"{name}.npz" if complete else f"{name}.partial.npz")
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, out)
    return out


def load_cache(name: str, *, cache_dir: Path = CACHE_DIR, build: bool = True,
               workers: int = 2, partial: bool = False) -> dict[str, np.ndarray]:
    """The cached arrays of one corpus (built first when absent and ``build``).

    ``partial``: when the build has not finished, use the files parsed so far.
    """
    path = cache_dir / f"{name}.npz"
    if not path.exists():
        if partial and (cache_dir / "parts" / name).exists():
            path = _assemble(name, corpus_files(name), cache_dir, complete=False)
        elif not build:
            raise SystemExit(f"{path} is absent; build it with: python benchmarks/key_corpus.py")
        else:
            build_cache(name, workers=workers, cache_dir=cache_dir)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def tune(data: dict[str, np.ndarray], i: int) -> tuple[np.ndarray, np.ndarray]:
    """Pitches and durations of tune ``i`` of a loaded cache."""
    a, b = data["offsets"][i], data["offsets"][i + 1]
    return data["pitch"][a:b], data["duration"][a:b]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit-files", type=int, default=None, help="first N files (a quick try)")
    ap.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    ap.add_argument("--m21", nargs="*", choices=list(M21_PROFILES), default=None,
                    help="profiles to run music21's analyzer with (default: aarden-essen, which is "
                    "music21's analyze('key'))")
    ap.add_argument("--only", help="only the files whose name holds this text (e.g. ballad)")
    args = ap.parse_args(argv)
    for name in args.corpora:
        out = build_cache(name, workers=args.workers, limit_files=args.limit_files,
                          cache_dir=args.cache_dir,
                          m21=None if args.m21 is None else tuple(args.m21), only=args.only)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
