"""The key-retention experiment: sample from each model in every key, measure, report.

:func:`run_retention` takes a :class:`~musicgate.experiments.config.RetentionConfig` and writes
``<output>/retention-<timestamp>/``: ``report.md``, PNG curves, ``sequences.csv`` (one row per
generated sequence), ``curves.csv`` (per position mean and 95% interval), ``raw.npz`` (per note
and per window values) and ``tokens.npz`` (the sampled ids), ``config.yaml`` (the resolved config)
and ``models.json`` (sha256 of each checkpoint), so ``musicgate experiment retention --config
<folder>/config.yaml`` reproduces it.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from musicgate.errors import CheckpointError, ConfigError, DataError
from musicgate.experiments.config import RetentionConfig, load_retention_config, retention_config, save_retention_config
from musicgate.files import atomic_path, atomic_write_json, atomic_write_text
from musicgate.music.keys import Key
from musicgate.music.notes import Notes
from musicgate.analysis.retention import Measured, measure
from musicgate.experiments.retention_report import CellRun, write_report


# -- models ------------------------------------------------------------------------------------
def resolve_checkpoint(spec: str, *, train_dir: Path | None = None, quiet: bool = True) -> Path:
    """The checkpoint file for a model spec: what :func:`musicgate.nn.hub.resolve_checkpoint` takes
    (a shipped name, a file, a run folder), or a YAML training config, trained first into ``train_dir``.
    """
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        if train_dir is None:
            raise ConfigError(f"model {spec}: a training config needs a folder to train into")
        from musicgate.train.config import load_config
        from musicgate.train.loop import train

        res = train(load_config(path), run_dir=train_dir, quiet=quiet)
        return Path(res.best_checkpoint or res.last_checkpoint or train_dir / "last.pt")
    from musicgate.nn.hub import resolve_checkpoint as resolve

    return resolve(spec)


def sha256_file(path: "str | os.PathLike") -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- real tunes --------------------------------------------------------------------------------
def real_tunes(dataset: str, split: str = "test", *, max_tunes: int | None = None
               ) -> tuple[list[Notes], list[Key], dict]:
    """Held-out tunes with a labelled key: notes, keys and a description of the data.

    The label is the tune's KEY token (the corpus label, :mod:`musicgate.data.corpora`); tunes with
    ``KEY_unknown`` are left out.
    """
    from musicgate.data.corpora import load_prepared

    data = load_prepared(dataset)
    if split not in data.splits:
        raise DataError(f"dataset {data.path} has no split {split!r}; splits: {', '.join(data.splits)}")
    tok = data.tokenizer
    notes, keys = [], []
    for i in data.splits[split]:
        ids = data.tune(int(i))
        key = tok.key_of(ids)
        if key is None:
            continue
        notes.append(tok.decode(ids))
        keys.append(key)
        if max_tunes is not None and len(notes) >= max_tunes:
            break
    if not notes:
        raise DataError(f"dataset {data.path}: no {split} tunes with a key label; the ceiling needs some")
    info = {"dataset": str(data.path), "fingerprint": data.fingerprint, "split": split, "tunes": len(notes)}
    return notes, keys, info


def primers(dataset: str, split: str, n_notes: int, keys: list[Key], tokenizer) -> dict[Key, np.ndarray]:
    """Per target key: the first ``n_notes`` notes of a held-out tune of the same mode, transposed."""
    tunes, labels, _ = real_tunes(dataset, split)
    out = {}
    for key in keys:
        mode = "minor" if key.mode in ("minor", "dorian", "phrygian", "locrian") else "major"
        pick = next((i for i, (n, k) in enumerate(zip(tunes, labels))
                     if len(n) >= n_notes and k.is_major_minor and k.mode == mode), None)
        if pick is None:
            raise DataError(f"no {split} tune in {dataset} has {n_notes} notes in a {mode} key for a primer; "
                            "lower primer_notes")
        notes = tunes[pick]
        short = notes.select(np.arange(len(notes)) < n_notes)
        ids = tokenizer.encode(short)
        lo, hi = tokenizer.shift_range(ids)
        base = (key.tonic - labels[pick].tonic) % 12
        shift = next((s for s in (base, base - 12) if lo <= s <= hi), None)
        if shift is None:
            raise DataError(f"primer tune cannot be transposed to {key.name} within the pitch range")
        out[key] = tokenizer.transpose(ids, shift)
    return out


def _sample_cell(label: str, ckpt: Path, config: RetentionConfig, keys: list[Key], *, quiet: bool) -> CellRun:
    from musicgate.nn.hub import load_model
    from musicgate.nn.models import count_params
    from musicgate.generation.sample import medley_notes, sample

    model, tok, meta = load_model(ckpt, device=config.device)
    if tok.kind != "melody":
        raise CheckpointError(f"{ckpt}: the retention experiment needs a melody-vocabulary model, "
                              f"this one uses the {tok.kind} vocabulary")
    targets = [k for k in keys for _ in range(config.n_per_key)]
    progress = not quiet and sys.stderr.isatty()
    start = time.perf_counter()
    if config.primer_notes:
        if config.dataset is None:
            raise ConfigError("primer_notes needs a dataset to take the primers from; set dataset")
        table = primers(config.dataset, config.ceiling_split, config.primer_notes, keys, tok)
        ids = []
        for i, key in enumerate(keys):
            ids += sample(model, tok, keys=[key] * config.n_per_key, length=config.length, exact=True,
                          temperature=config.temperature, min_p=config.min_p, primer_ids=table[key],
                          medley=config.medley,
                          seed=config.seed + i,
                          batch_size=config.batch_size, progress=progress)
        n_primer = {k: int((tok.pitch_of[v] >= 0).sum()) for k, v in table.items()}
    else:
        ids = sample(model, tok, keys=targets, length=config.length, exact=True, temperature=config.temperature,
                     min_p=config.min_p, medley=config.medley,
                     seed=config.seed, batch_size=config.batch_size, progress=progress)
        n_primer = {k: 0 for k in keys}
    seconds = time.perf_counter() - start
    notes = []
    for seq, key in zip(ids, targets):
        n = medley_notes(tok, seq) if config.medley else tok.decode(seq)
        notes.append(n.select(np.arange(len(n)) >= n_primer[key]))
    measured = measure(notes, targets, windows=config.windows, profile=config.profile, length=config.length,
                       drift_window=config.drift_window, drift_patience=config.drift_patience)
    info = {"label": label, "spec": config.models[label], "path": str(ckpt), "sha256": sha256_file(ckpt),
            "cell": model.cell, "params": count_params(model), "model_args": meta["model_args"],
            "step": meta["step"], "best_val_loss": meta["best_val_loss"],
            "dataset": meta["dataset"], "sample_seconds": round(seconds, 2),
            "length_mode": "medley" if config.medley else "exact", "meter_grammar": True}  # sample's defaults for melody models
    return CellRun(label, info, measured, ids, seconds)


# -- the experiment ----------------------------------------------------------------------------
def _new_run_dir(output: str) -> Path:
    root = Path(output)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = root / f"retention-{stamp}{'' if n == 0 else f'-{n}'}"
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise ConfigError(f"{root}: cannot make a new retention-{stamp} folder")


def run_retention(config: "RetentionConfig | dict | str | os.PathLike", *, overrides: list[str] | None = None,
                  quiet: bool = False, log=None) -> Path:
    """Run the key-retention experiment; returns the output folder.

    Parameters
    ----------
    config : RetentionConfig, a mapping, or the path of a YAML file.
    overrides : ``key=value`` settings applied on top.
    quiet : no progress bars.
    log : optional callable taking one line of progress text.
    """
    if isinstance(config, RetentionConfig):
        config = retention_config(config.to_dict(), overrides)
    elif isinstance(config, dict):
        config = retention_config(config, overrides)
    else:
        config = load_retention_config(config, overrides)
    say = log or (lambda line: None)
    keys = config.key_list()
    ceiling = None
    if config.dataset is not None:  # fail on a missing dataset before sampling for minutes
        tunes, labels, data_info = real_tunes(config.dataset, config.ceiling_split, max_tunes=config.ceiling_tunes)
    specs = {label: resolve_checkpoint(spec) if not spec.endswith((".yaml", ".yml")) else None
             for label, spec in config.models.items()}
    outdir = _new_run_dir(config.output)
    say(f"writing to {outdir}")
    if config.dataset is not None:
        ceiling = measure(tunes, labels, windows=config.windows, profile=config.profile, length=None,
                          drift_window=config.drift_window, drift_patience=config.drift_patience)
        ceiling_info = data_info
    runs = []
    for label, ckpt in specs.items():
        if ckpt is None:
            say(f"{label}: training {config.models[label]}")
            ckpt = resolve_checkpoint(config.models[label], train_dir=outdir / "models" / label, quiet=quiet)
        say(f"{label}: sampling {len(keys)} keys x {config.n_per_key} sequences x {config.length} notes")
        run = _sample_cell(label, ckpt, config, keys, quiet=quiet)
        say(f"{label}: {run.seconds:.1f} s")
        runs.append(run)
    save_retention_config(config, outdir / "config.yaml")
    atomic_write_json(outdir / "models.json", {"models": [r.info for r in runs],
                                               "ceiling": ceiling_info if ceiling is not None else None})
    _write_raw(outdir, runs, ceiling)

    write_report(outdir, config, runs, ceiling, ceiling_info if ceiling is not None else None)
    return outdir


def _write_raw(outdir: Path, runs: list[CellRun], ceiling: Measured | None) -> None:
    """sequences.csv, raw.npz and tokens.npz."""
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf)
    wins = sorted(runs[0].measured.agreement) if runs else []
    writer.writerow(["source", "key", "seq", "notes", "in_signature"]
                    + [f"{m}_w{w}" for w in wins for m in ("in_signature", "agreement", "mirex")]
                    + ["drift_time", "drifted"])
    groups = [(r.label, r.measured) for r in runs] + ([("real", ceiling)] if ceiling is not None else [])
    raw, toks = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (tunes shorter than a window)
        for name, m in groups:
            counter: dict = {}
            means = {w: (np.nanmean(m.in_sig_window[w], axis=1), np.nanmean(m.agreement[w].exact, axis=1),
                         np.nanmean(m.agreement[w].mirex, axis=1)) for w in wins}
            in_sig = np.nanmean(m.in_sig, axis=1)
            for b, key in enumerate(m.targets):
                seq = counter.get(key, 0)
                counter[key] = seq + 1
                row = [name, key.name, seq, int(m.lengths[b]), _num(in_sig[b])]
                for w in wins:
                    row += [_num(v[b]) for v in means[w]]
                row += [_num(m.drift[0][b]), int(bool(m.drift[1][b]))]
                writer.writerow(row)
            raw[f"{name}_pitch"] = m.pitch.astype(np.int16)
            raw[f"{name}_duration"] = m.duration.astype(np.float32)
            raw[f"{name}_lengths"] = m.lengths
            raw[f"{name}_targets"] = np.array([k.name for k in m.targets])
            for w in wins:
                raw[f"{name}_key_w{w}"] = m.agreement[w].key.astype(np.int8)
    for r in runs:
        lens = np.array([len(t) for t in r.tokens], np.int64)
        pad = np.zeros((len(r.tokens), int(lens.max(initial=0))), np.int16)
        for i, t in enumerate(r.tokens):
            pad[i, :len(t)] = t
        toks[f"{r.label}_ids"], toks[f"{r.label}_lengths"] = pad, lens
    atomic_write_text(outdir / "sequences.csv", buf.getvalue())
    for fname, arrays in (("raw.npz", raw), ("tokens.npz", toks)):
        with atomic_path(outdir / fname) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)


def _num(x) -> str:
    x = float(x)
    return "" if np.isnan(x) else f"{x:.6g}"


__all__ = ["run_retention", "resolve_checkpoint", "real_tunes", "sha256_file"]
