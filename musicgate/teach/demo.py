"""``musicgate demo``: the shipped models, samples in three keys, a short retention run, the gallery.

:func:`run_demo` runs, in order,

1. a short key-retention experiment (:func:`musicgate.experiments.retention_run.run_retention` with the quick
   settings of :data:`QUICK_RETENTION`: every major and minor key, a few short samples
   per key and model, curves with bootstrap bands, against held-out real tunes when the ``folk``
   dataset is prepared, without that ceiling otherwise);
2. the gallery (:func:`musicgate.teach.gallery.build_gallery`): one sample per model in each of three
   keys, rendered to audio, with pictures and a comparison written from the numbers, and the
   retention run's curves and findings on the same page.

It is sized to finish within 3 minutes on a 2-core CPU (``benchmarks/demo.py`` measures it).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

QUICK_RETENTION = {"keys": "all", "n_per_key": 2, "length": 96, "windows": [16, 32], "positions": [32, 64, 96],
                   "drift_window": 32, "profile": "temperley-kostka-payne", "n_boot": 200, "dataset": "folk", "ceiling_tunes": 200,
                   "batch_size": 48, "device": "cpu"}
"""Quick retention settings for the demo (the same run from the CLI: ``musicgate experiment retention
--set n_per_key=2 --set length=96 --set positions=[32,64,96] --set n_boot=200 --set ceiling_tunes=200``)."""


@dataclass
class DemoResult:
    """Where the demo wrote its page and how long each part took (seconds)."""

    index: Path
    retention: Path | None
    seconds: dict
    notes: list

    @property
    def url(self) -> str:
        """The ``file://`` address of the page, to open in a browser."""
        return self.index.resolve().as_uri()


def quick_retention_settings() -> dict:
    """The quick retention settings (:data:`QUICK_RETENTION`; one copy, inside the package)."""
    return dict(QUICK_RETENTION)


def _dataset_ready(name: str | None) -> bool:
    from musicgate.data.corpora import load_prepared
    from musicgate.errors import DataError

    if name is None:
        return False
    try:
        load_prepared(name)
    except DataError:
        return False
    return True


def _cell_label(spec: str, taken: dict) -> str:
    base = Path(spec).stem if spec.endswith((".pt", ".pth")) else Path(spec).name
    label = base.replace("folk-", "") or "model"
    return label if label not in taken else f"{label}-{len(taken) + 1}"


def short_retention(outdir: "str | os.PathLike", specs: Sequence[str], *, quiet: bool = False,
                    log: Callable[[str], None] | None = None) -> tuple[Path, list[str]]:
    """The quick retention run for ``specs`` into ``outdir``; returns its folder and notes for the user.

    The real-tune ceiling needs the prepared ``folk`` dataset; without it the run goes on
    without a ceiling and the notes say so.
    """
    from musicgate.experiments.retention_run import run_retention

    settings = quick_retention_settings()
    notes = []
    models: dict = {}
    for spec in specs:
        models[_cell_label(spec, models)] = spec
    settings.update(models=models, output=os.fspath(outdir))
    if settings.get("dataset") and not _dataset_ready(settings["dataset"]):
        notes.append(f"retention without the real-tune ceiling: the {settings['dataset']!r} dataset is not "
                     f"prepared here (run 'musicgate data prepare {settings['dataset']}' to add it)")
        settings["dataset"] = None
    return run_retention(settings, quiet=quiet, log=log), notes


def run_demo(outdir: "str | os.PathLike" = "generated/demo", *, models: Sequence[str] | None = None,
             keys: Sequence[str] | None = None, length: int | None = None, num: int = 8, seed: int = 0,
             retention: bool = True, speech: "str | os.PathLike | None" = None,
             speech_clips: Sequence["str | os.PathLike"] = (), quiet: bool = False, threads: int | None = 1,
             log: Callable[[str], None] | None = None) -> DemoResult:
    """Run the demo into ``outdir``; returns where the page is.

    Parameters
    ----------
    outdir : path
        Gets the gallery (``index.html``, ``media/``) and ``retention/retention-<time>/``.
    models : list of str, optional
        Default: the shipped ``folk-rnn``, ``folk-lstm`` and ``folk-gru``.
    keys, length, num, seed :
        As in :func:`~musicgate.teach.gallery.build_gallery` (default: its defaults).
    retention : bool
        Run the short retention experiment (off: the gallery alone).
    speech, speech_clips :
        A speech run and clips for the page's speech part (see
        :func:`~musicgate.teach.gallery.build_gallery`).
    threads : int or None
        torch CPU threads during the demo, restored afterwards (None: torch's setting). One by
        default: the demo's batches are small, and on a busy 2-core machine two threads made the
        retention run 30x slower (74 s against 2.4 s, ``benchmarks/demo.py --threads``).
    log : callable, optional
        Gets one line per stage (default: print to stderr unless ``quiet``).

    Raises
    ------
    CheckpointError
        No models (the message says how to get them).
    """
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(int(threads), 1))
    try:
        return _run(outdir, models=models, keys=keys, length=length, num=num, seed=seed, retention=retention,
                    speech=speech, speech_clips=speech_clips, quiet=quiet, log=log)
    finally:
        torch.set_num_threads(before)


def _run(outdir, *, models, keys, length, num, seed, retention, speech, speech_clips, quiet, log) -> DemoResult:
    from musicgate.teach.gallery import DEFAULT_KEYS, DEFAULT_LENGTH, build_gallery, resolve_models

    say = log or ((lambda line: None) if quiet else (lambda line: print(line, file=sys.stderr, flush=True)))
    from musicgate.music.keys import parse_key

    from musicgate.teach.speechpart import check_speech

    specs = resolve_models(models)
    check_speech(speech, speech_clips)  # a bad speech run fails before the retention run
    for key in keys or DEFAULT_KEYS:  # every key is checked before anything runs or is written
        parse_key(key)
    outdir = Path(outdir)
    seconds: dict = {}
    notes: list[str] = []
    start = time.perf_counter()
    run_dir = None
    if retention:
        say(f"demo: short retention run ({', '.join(specs)}, every major and minor key)")
        run_dir, notes = short_retention(outdir / "retention", specs, quiet=quiet, log=say)
        for line in notes:
            say(f"demo: {line}")
        seconds["retention"] = time.perf_counter() - start
    say("demo: gallery (sampling, audio, pictures)")
    t0 = time.perf_counter()
    index = build_gallery(outdir, models=specs, keys=DEFAULT_KEYS if keys is None else keys,
                          length=DEFAULT_LENGTH if length is None else length, num=num, seed=seed,
                          retention=run_dir, speech=speech, speech_clips=speech_clips, quiet=quiet)
    seconds["gallery"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start
    return DemoResult(index=index, retention=run_dir, seconds=seconds, notes=notes)
