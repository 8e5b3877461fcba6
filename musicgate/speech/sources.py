"""The ``--data`` strings of the speech commands: which clips a run trains and tests on.

``PATH.npz``, ``fsdd:DIR``, ``commands:DIR`` (:mod:`musicgate.speech.data`) and ``synth-digits``
(:mod:`musicgate.speech.synth`), each turned into a train/test :class:`~musicgate.speech.data.Split`.
"""
from __future__ import annotations

import os

from musicgate.errors import DataError
from musicgate.speech.data import (Split, fsdd_official_split, leave_one_speaker_out, load_commands, load_fsdd,
                                   load_npz, stratified_split)
from musicgate.speech.features import FeatureConfig
from musicgate.speech.synth import load_synth_split


def load_spec(spec: str, *, config: FeatureConfig = FeatureConfig(), seed: int = 0,
              holdout_speaker: str | None = None, cache_dir: "str | os.PathLike | None" = None,
              progress: bool = False) -> Split:
    """Load the train/test pair that a ``--data`` string names.

    ``PATH.npz`` (stratified seeded 50/50 split), ``fsdd:DIR`` (official split: takes 0-4 test;
    with ``holdout_speaker`` leave that speaker out instead), ``commands:DIR`` (training vs
    testing list) or ``synth-digits`` (eSpeak NG voices, some held out; cached in ``cache_dir``).
    """
    if spec.startswith("fsdd:"):
        data = load_fsdd(spec[5:], config=config, progress=progress)
        if holdout_speaker:
            tr, te = leave_one_speaker_out(data, holdout_speaker)
            how = f"leave out speaker {holdout_speaker}"
        else:
            tr, te = fsdd_official_split(data)
            how = "official split (takes 0-4 test)"
        return Split(data.subset(tr), data.subset(te), f"{spec}: {how}")
    if holdout_speaker:
        raise DataError(f"--holdout-speaker needs fsdd:DIR data, not {spec!r}")
    if spec.startswith("commands:"):
        sets = load_commands(spec[9:], config=config, progress=progress)
        return Split(sets["training"], sets["testing"], f"{spec}: training vs testing_list.txt")
    if spec in ("synth-digits", "synth"):
        return load_synth_split(config=config, seed=seed, cache_dir=cache_dir, progress=progress)
    if spec.endswith(".npz") or spec.startswith("npz:"):
        path = spec[4:] if spec.startswith("npz:") else spec
        data = load_npz(path)
        tr, te = stratified_split(data.labels, test_fraction=0.5, seed=seed)
        return Split(data.subset(tr), data.subset(te), f"{path}: stratified 50/50 split, seed {seed}")
    raise DataError(f"unknown --data {spec!r}: use PATH.npz, fsdd:DIR, commands:DIR or synth-digits")


def features_for_spec(spec: str, config: FeatureConfig) -> FeatureConfig | None:
    """The feature settings a WAV needs to match data from ``spec`` (None for precomputed .npz)."""
    return None if (spec.endswith(".npz") or spec.startswith("npz:")) else config


__all__ = ["load_spec", "features_for_spec"]
