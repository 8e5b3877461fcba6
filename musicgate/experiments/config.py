"""Typed configs of the experiments (key retention), loaded from YAML with ``--set key=value``.

Every default lives in :class:`RetentionConfig`; a YAML file names only what differs. An unknown
key or a value of the wrong type is a :class:`~musicgate.errors.ConfigError` naming the key and
listing the valid ones.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from musicgate.config import apply_overrides, build_config, check_fields, setting
from musicgate.errors import ConfigError
from musicgate.files import atomic_write_text
from musicgate.music.keys import DEFAULT_PROFILE, MAJOR_MINOR_KEYS, Key, parse_key, profile_name

DEFAULT_MODELS = {"rnn": "folk-rnn", "lstm": "folk-lstm", "gru": "folk-gru"}


@dataclass
class RetentionConfig:
    """The key-retention experiment.

    Attributes
    ----------
    models : label -> model: a shipped model name (``folk-lstm``, in ``musicgate/pretrained/``),
        a checkpoint file or run folder, or a training YAML config (trained first, into the
        output folder).
    keys : ``all`` (the 24 major and minor keys) or a list of key names.
    n_per_key : sequences generated per key and model.
    length : notes generated per sequence (primer notes not counted).
    temperature : sampling temperature (1.0: the model as it is); no key mask, no top-k/top-p.
    min_p : min-p sampling (None: off, the model as it is; 0.05: what ``musicgate generate`` uses).
        It drops each step's tokens less than ``min_p`` times as likely as the likeliest; it never
        looks at the key, so what is kept is still the model's own.
    medley : play sets, as models trained on medley streams learned to: a tune may end (EOS, once it
        has 32 notes) and the next starts in the same state, until ``length`` notes in all (False:
        one tune of ``length`` notes, EOS held back until then).
    primer_notes : 0 (start from ``BOS KEY METER``) or the first so many notes of a held-out tune
        of the same mode, transposed to each key.
    windows : window lengths (notes) of the windowed key estimates.
    profile : key profile of the key estimates.
    positions : positions (notes) quoted in the report table (clipped to ``length``).
    drift_window, drift_patience : time to drift is the end of the first (non-overlapping)
        window of ``drift_window`` notes whose key is not the target (``drift_patience`` of them
        in a row).
    n_boot, level : bootstrap resamples and interval coverage.
    dataset, ceiling_split, ceiling_tunes : the held-out real tunes of the ceiling (None: no
        ceiling); at most ``ceiling_tunes`` of them (None: all).
    seed, batch_size, device : sampling settings.
    output : folder under which ``retention-<timestamp>/`` is made.
    probe_results : optional ``results.json`` of a key-memory probe run, quoted in the report.
    """

    models: dict[str, str] = setting(factory=lambda: dict(DEFAULT_MODELS))
    keys: Any = "all"
    n_per_key: int = setting(32, ge=1)
    length: int = setting(1024, ge=1)
    temperature: float = setting(1.0, gt=0)
    min_p: float | None = setting(None, ge=0, lt=1)
    medley: bool = False
    primer_notes: int = setting(0, ge=0)
    windows: list[int] = setting(factory=lambda: [16, 32], ge=1)
    profile: str = DEFAULT_PROFILE
    positions: list[int] = setting(factory=lambda: [64, 256, 1024], ge=1)
    drift_window: int = setting(32, ge=1)
    drift_patience: int = setting(1, ge=1)
    n_boot: int = setting(1000, ge=1)
    level: float = setting(0.95, gt=0, lt=1)
    dataset: str | None = "folk"
    ceiling_split: str = "test"
    ceiling_tunes: int | None = setting(None, ge=1)
    seed: int = setting(0, ge=0)
    batch_size: int = setting(768, ge=1)
    device: str = "cpu"
    output: str = "generated"
    probe_results: str | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.models:
            raise ConfigError("models: expected a mapping label -> model name, checkpoint or config "
                              "(e.g. {lstm: folk-lstm})")
        for name in ("windows", "positions"):
            if not getattr(self, name):
                raise ConfigError(f"{name}: expected a list of positive whole numbers, got []")
        self.keys = _key_names(self.keys)
        self.profile = profile_name(str(self.profile))  # KeyNameError lists the valid profiles

    def key_list(self) -> list[Key]:
        """The target keys (``all``: the 24 major and minor keys)."""
        if self.keys == "all":
            return list(MAJOR_MINOR_KEYS)
        return [parse_key(k) for k in self.keys]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _key_names(keys: Any) -> "str | list[str]":
    """``all``, or the key names of a list (or comma-separated text) of keys, checked."""
    if isinstance(keys, str) and keys.strip().lower() == "all":
        return "all"
    items = keys.split(",") if isinstance(keys, str) else keys
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError(f"keys: expected 'all' or a list of key names, got {keys!r}")
    return [parse_key(str(k).strip()).name for k in items]  # KeyNameError lists the forms


def retention_config(data: dict | None = None, overrides: list[str] | tuple[str, ...] | None = None
                     ) -> RetentionConfig:
    """A :class:`RetentionConfig` from a mapping and ``key=value`` overrides (values as YAML)."""
    config = build_config(RetentionConfig, data, what="retention config")
    if not overrides:
        return config
    return build_config(RetentionConfig, apply_overrides(RetentionConfig, config.to_dict(), overrides,
                                                         what="retention config"), what="retention config")


def load_retention_config(path: "str | os.PathLike | None" = None,
                          overrides: list[str] | tuple[str, ...] | None = None) -> RetentionConfig:
    """Read a retention YAML file (None: the defaults) and apply ``key=value`` overrides."""
    data: dict = {}
    if path is not None:
        from musicgate.files import read_yaml

        path = Path(path)
        data = read_yaml(path)
    try:
        return retention_config(data, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


def save_retention_config(config: RetentionConfig, path: "str | os.PathLike") -> Path:
    """Write the resolved config as YAML (atomically); :func:`load_retention_config` reads it back."""
    return atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
