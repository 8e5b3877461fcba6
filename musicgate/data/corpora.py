"""Cached token datasets, prepared from the registered corpora.

The corpora (all offline) are classes in the registry of :mod:`musicgate.data.corpus`: ``essen``,
``oneills``, ``ryans`` (music21's bundled ABC folk tunes), ``folk`` (the three together),
``chorales`` (Bach, MusicXML), ``midi:PATH`` (a folder of MIDI files, recursive) and
``pianoroll:PATH.mat`` (the four polyphonic benchmarks).

``prepare`` parses in parallel, labels each tune's key, tokenizes, splits by tune and caches
under ``datasets/NAME/``: ``tokens.npy`` (all ids, concatenated), ``offsets.npy`` (tune i is
``tokens[offsets[i]:offsets[i + 1]]``), ``tokenizer.json``, ``splits.npz`` (tune indices of
train/valid/test), ``manifest.json`` (every tune's source, key label and how it was made, length;
every rejected tune with its reason; the fingerprint) and ``COMPLETE``, written last. A cache is
built in a temporary folder and renamed into place, so an interrupted run leaves nothing a later
run would trust; a cache whose fingerprint differs from the sources' is rebuilt.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from musicgate.data.corpus import (Corpus, Item, Rejected, _music21_corpus_dir, abc_tunes, corpus_for,  # noqa: F401
                                   corpus_specs, mode_from_thirds, roll_to_notes)
from musicgate.data.prepared import TokenData, open_dataset, write_dataset
from musicgate.errors import DataError, MusicgateError
from musicgate.music.notes import Notes
from musicgate.tokens.tokenizer import Tokenizer, load_tokenizer, make_tokenizer

CACHE_VERSION = 5  # 2: ABC read by musicgate.music.abc (music21's tokens, no Score); 3: pickups, bar lines, form;
# 4: each tune's dance (Corpus.dance) in the manifest; 5: a |: after a tune's last note read as its final bar line
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
"""Train, validation and test shares of the tunes (split by tune, from the seed)."""


@dataclass
class Parsed:
    """What a worker returns for one item: token ids and a label, or a reason for rejecting it."""

    source: str
    corpus: str
    ids: np.ndarray | None = None
    key: str | None = None
    label: str = ""
    notes: int = 0
    title: str = ""
    split: str = ""
    reject: str | None = None
    bar_fill: tuple[int, int] = (0, 0)  # (bars filled exactly, bars counted), melody tokens only
    form: list[str] = field(default_factory=list)  # 'repeats', 'endings', 'no bar lines' and unbalanced-form phrases
    dance: str | None = None  # the kind of tune (Corpus.dance): reel, jig, song...


PreparedData = TokenData
"""A prepared dataset: :class:`musicgate.data.dataset.TokenData` (one reader, writer and validator)."""


# -- sources and labels ----------------------------------------------------------------------------
def cache_name(corpus: "str | Corpus") -> str:
    """The folder name under datasets/ for a corpus spec."""
    return corpus_for(corpus).cache_name()


def source_files(corpus: "str | Corpus") -> list[Path]:
    """The files a corpus is read from (their names, sizes and times make the fingerprint)."""
    return corpus_for(corpus).files()


def _main_meter(notes: Notes) -> Notes:
    """Keep the time signature that spans the most beats, placed at beat 0 (tokens carry one)."""
    from dataclasses import replace

    if len(notes.meters) <= 1:
        return notes
    ends = [b for b, _, _ in notes.meters[1:]] + [max(notes.end, notes.meters[-1][0])]
    spans = [e - b for (b, _, _), e in zip(notes.meters, ends)]
    _, num, den = notes.meters[int(np.argmax(spans))]
    return replace(notes, meters=((0.0, num, den),))


def _bar_problem(notes: Notes, tok) -> str | None:
    """Why a melody cannot keep its bar lines, or None: a meter change mid-tune (the tokens carry one
    METER), or a first bar longer than a bar (a pickup longer than a bar, or a missing bar line)."""
    meters = list(dict.fromkeys((n, d) for _, n, d in notes.meters))
    if len(meters) > 1:
        return (f"meter changes mid-tune ({' to '.join(f'{n}/{d}' for n, d in meters)}); the melody tokens "
                "carry one METER")
    first = next((b for b, _ in notes.bars if b > 0), None)
    if first is not None and notes.meter and first > tok.bar_steps(notes.meter) / tok.grid + 1e-9:
        return (f"first bar is {first:g} beats, longer than a bar of {notes.meter[0]}/{notes.meter[1]} "
                "(a pickup longer than a bar, or a missing bar line)")
    return None


def _form_facts(notes: Notes, kind: str) -> list[str]:
    """'repeats', 'endings', 'no bar lines' (an ABC tune without any) and unbalanced-form phrases."""
    from musicgate.music.notes import form_problems

    kinds = {k for _, k in notes.bars}
    facts = (["repeats"] if ":|" in kinds else []) + (["endings"] if kinds & {"|1", "|2"} else [])
    facts += ["no bar lines"] if kind == "abc" and not notes.bars else []
    return facts + form_problems(notes.bars)


# -- the worker -----------------------------------------------------------------------------------
def parse_item(args: tuple[Item, dict, bool]) -> Parsed:
    """Read, label and tokenize one item (``(item, tokenizer config, melody)``), in a worker process."""
    item, tok_config, melody = args
    out = Parsed(item.source, item.corpus, split=item.split)
    try:
        corpus = item.origin or corpus_for(item.corpus)
        try:
            notes, stream, out.title = corpus.read(item)
        except Rejected as exc:
            out.reject = str(exc)
            return out
        if len(notes) == 0:
            out.reject = "no notes"
            return out
        key, out.label = corpus.label(item, notes, stream)
        out.dance = corpus.dance(item)
        from dataclasses import replace

        tok = load_tokenizer(tok_config)
        form = melody and getattr(tok, "form", False)
        if form:
            out.reject = _bar_problem(notes, tok)
            if out.reject:
                return out
            out.form = _form_facts(notes, item.kind)
        notes = _main_meter(replace(notes, keys=((0.0, key),) if key else ()))
        notes = notes.skyline() if melody else notes
        out.ids = tok.encode(notes).astype(np.int16)
        if melody:
            out.bar_fill = tok.bar_fill(out.ids)
        out.key, out.notes = (key.name if key else None), len(tok.quantize(notes))  # notes the ids carry
    except MusicgateError as exc:
        msg = str(exc).split(";")[0]
        out.reject = msg[len(item.text) + 2:] if item.text and msg.startswith(item.text + ": ") else msg
    except Exception as exc:  # a reader's unforeseen error: one bad item never stops the run
        out.reject = f"cannot read it ({type(exc).__name__}: {str(exc)[:120]})"
    return out


# -- prepare / load -------------------------------------------------------------------------------
def fingerprint(corpus: str, files: list[Path], tokenizer: Tokenizer, seed: int) -> str:
    """Hash of the sources' content, the tokenizer and the split settings (decides whether a cache
    is stale). Folder paths are left out, so two clones agree."""
    from musicgate.data.fingerprint import source_digest

    kind = corpus.split(":", 1)[0]
    limit = corpus[corpus.index("[:"):] if "[:" in corpus else ""
    return source_digest(files, [CACHE_VERSION, kind + limit, tokenizer.fingerprint, seed, SPLIT_FRACTIONS])


def default_vocab(corpus: "str | Corpus") -> str:
    """The corpus's vocabulary: ``melody`` for the folk corpora, ``event`` for polyphonic ones."""
    return corpus_for(corpus).vocab


def prepare(corpus: "str | Corpus", *, vocab: str | None = None, root: "str | os.PathLike" = "datasets",
            workers: int | None = None, seed: int = 0, pitch_range: tuple[int, int] = (21, 108), force: bool = False,
            quiet: bool = False, limit: int | None = None) -> PreparedData:
    """Parse, label, tokenize, split and cache a corpus; returns the loaded cache.

    ``corpus`` is a registered corpus's name (``folk``, ``midi:PATH``; see
    :mod:`musicgate.data.corpus`) or a :class:`~musicgate.data.corpus.Corpus`. An up-to-date cache is
    loaded instead of rebuilt (unless ``force``); a stale one is rebuilt. ``limit`` keeps the first N
    items (for quick trials; the fingerprint records it).
    """
    source = corpus_for(corpus)
    vocab = vocab or source.vocab
    files = source.files()
    tok = make_tokenizer(vocab, pitch_range=pitch_range)
    fp = fingerprint(source.spec + (f"[:{limit}]" if limit else ""), files, tok, seed)
    name = source.cache_name() + ("" if vocab == source.vocab else f"-{vocab}") + (f"-{limit}" if limit else "")
    dest = Path(root) / name
    from musicgate.files import pid_lock

    # Two prepares of one cache at once: the second waits, then finds the first one's cache.
    with pid_lock(Path(root) / f".{name}.lock", what=f"dataset cache {dest}", wait=True):
        if not force:
            try:
                cached = load_prepared(dest)
                if cached.manifest.get("sources") == fp:
                    return cached
                if not quiet:
                    print(f"{dest}: sources or settings changed since it was built; rebuilding")
            except DataError:
                pass
        return _build(source, files, tok, fp, dest, name, vocab, seed, workers, quiet, limit)


def _build(corpus: Corpus, files, tok, fp, dest, name, vocab, seed, workers, quiet, limit) -> PreparedData:
    from tqdm import tqdm

    items = corpus.items(files)[:limit]
    if not items:
        raise DataError(f"corpus {corpus.spec!r} has nothing to read ({len(files)} files)")
    t0 = time.time()
    workers = workers or os.cpu_count() or 1
    jobs = [(it, tok.config, vocab == "melody") for it in items]
    bar = dict(total=len(jobs), unit="tune", desc=f"prepare {name}", disable=quiet, smoothing=0.1)
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            results = list(tqdm(pool.imap(parse_item, jobs, chunksize=8), **bar))
    else:
        results = [parse_item(j) for j in tqdm(jobs, **bar)]
    _write_cache(dest, results, tok, fp, corpus.spec, seed, time.time() - t0)
    return load_prepared(dest)


def _split(results: list[Parsed], seed: int) -> dict[str, np.ndarray]:
    n = len(results)
    if all(r.split for r in results):  # fixed splits (piano rolls)
        return {s: np.array([i for i, r in enumerate(results) if r.split == s], np.int64) for s in ("train", "valid", "test")}
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(round(n * SPLIT_FRACTIONS[0])), int(round(n * (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1])))
    return {"train": np.sort(order[:a]), "valid": np.sort(order[a:b]), "test": np.sort(order[b:])}


def _write_cache(dest: Path, results: list[Parsed], tok: Tokenizer, fp: str, corpus: str, seed: int, secs: float) -> None:
    kept = [r for r in results if r.reject is None]
    rejects = [{"source": r.source, "reason": r.reject} for r in results if r.reject is not None]
    tunes = [{"source": r.source, "title": r.title, "key": r.key, "label": r.label, "notes": r.notes,
              "tokens": int(len(r.ids)), **({"bar_fill": list(r.bar_fill)} if r.bar_fill[1] else {}),
              **({"form": r.form} if r.form else {}), **({"dance": r.dance} if r.dance else {})} for r in kept]
    manifest = {"corpus": corpus, "sources": fp, "seed": seed, "vocab": tok.kind, "built_seconds": round(secs, 1),
                "counts": {"items": len(results), "tunes": len(kept), "rejected": len(rejects)},
                "tunes": tunes, "rejects": rejects}
    write_dataset(dest, [r.ids for r in kept], tok, _split(kept, seed), manifest=manifest, name=dest.name,
                  complete=fp + "\n")


def load_prepared(name_or_path: "str | os.PathLike", *, root: "str | os.PathLike" = "datasets") -> PreparedData:
    """Load a prepared dataset by folder path, or by name under ``root``; read and checked by
    :func:`musicgate.data.prepared.open_dataset`. A folder without ``COMPLETE`` is refused."""
    path = Path(name_or_path)
    if not path.is_dir():
        path = Path(root) / str(name_or_path)
    if not (path / "COMPLETE").is_file():
        raise DataError(f"{path}: no complete prepared dataset there; run 'musicgate data prepare CORPUS' "
                        f"(corpora: {', '.join(corpus_specs())})")
    return open_dataset(path)


def summary(data: PreparedData) -> dict:
    """Counts, key histogram, length percentiles and rejects by reason (``musicgate data info``)."""
    from collections import Counter

    tunes = data.manifest.get("tunes")
    if not isinstance(tunes, list):  # written by write_dataset without per-tune facts: read the tokens
        tok = data.tokenizer
        tunes = []
        for i in range(len(data)):
            key = tok.key_of(data.tune(i))
            tunes.append({"key": key.name if key else None, "notes": len(tok.decode(data.tune(i)))})
    lengths = np.array([t["notes"] for t in tunes]) if tunes else np.zeros(1)
    tokens = np.diff(data.offsets) if len(data) else np.zeros(1)
    pct = lambda a: {f"p{q}": int(np.percentile(a, q)) for q in (5, 25, 50, 75, 95)}  # noqa: E731
    reasons: Counter = Counter()
    for r in data.manifest.get("rejects", []):  # by kind: per-tune details (pitch, meters, beats) left out
        k = r["reason"]
        reasons["pitch outside the range" if k.startswith("pitch") else "meter changes mid-tune"
                if k.startswith("meter changes") else "first bar longer than a bar" if k.startswith("first bar is")
                else k] += 1
    fill = np.array([t["bar_fill"] for t in tunes if "bar_fill" in t], np.int64).reshape(-1, 2).sum(axis=0)
    facts = Counter(f for t in tunes for f in t.get("form", ()))
    return {
        "name": data.name, "corpus": data.manifest.get("corpus", data.name), "vocab": data.tokenizer.kind,
        "tunes": len(data), "tokens": int(data.offsets[-1]) if len(data) else 0,
        "splits": {k: int(len(v)) for k, v in data.splits.items()},
        "keys": dict(Counter(t["key"] or "unknown" for t in tunes).most_common()),
        "modes": dict(Counter((t["key"] or "unknown unknown").split()[-1] for t in tunes).most_common()),
        "dances": dict(Counter(t["dance"] for t in tunes if t.get("dance")).most_common()),
        "notes_per_tune": pct(lengths), "tokens_per_tune": pct(tokens),
        "rejected": len(data.manifest.get("rejects", [])), "rejects_by_reason": dict(reasons.most_common()),
        "bar_fill": {"full": int(fill[0]), "bars": int(fill[1]),
                     "share": round(float(fill[0] / fill[1]), 4) if fill[1] else None},
        "form": {"repeats": facts["repeats"], "endings": facts["endings"], "no_bar_lines": facts["no bar lines"],
                 "unbalanced": sum(1 for t in tunes if set(t.get("form", ())) - {"repeats", "endings", "no bar lines"}),
                 "unbalanced_by_kind": {k: v for k, v in facts.most_common()
                                        if k not in ("repeats", "endings", "no bar lines")}},
        "built_seconds": data.manifest.get("built_seconds"), "fingerprint": data.fingerprint,
    }
