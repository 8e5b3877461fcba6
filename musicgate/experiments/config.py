"""Typed configs of the experiments (key retention), loaded from YAML with ``--set key=value``.

Every default lives in :class:`RetentionConfig`; a YAML file names only what differs. An unknown
key or a value of the wrong type is a :class:`~musicgate.errors.ConfigError` naming the key and
listing the valid ones.
"""
from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

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

    models: dict = field(default_factory=lambda: dict(DEFAULT_MODELS))
    keys: Any = "all"
    n_per_key: int = 32
    length: int = 1024
    temperature: float = 1.0
    primer_notes: int = 0
    windows: list = field(default_factory=lambda: [16, 32])
    profile: str = DEFAULT_PROFILE
    positions: list = field(default_factory=lambda: [64, 256, 1024])
    drift_window: int = 32
    drift_patience: int = 1
    n_boot: int = 1000
    level: float = 0.95
    dataset: str | None = "folk"
    ceiling_split: str = "test"
    ceiling_tunes: int | None = None
    seed: int = 0
    batch_size: int = 768
    device: str = "cpu"
    output: str = "generated"
    probe_results: str | None = None

    def key_list(self) -> list[Key]:
        """The target keys (``all``: the 24 major and minor keys)."""
        if self.keys == "all":
            return list(MAJOR_MINOR_KEYS)
        return [parse_key(k) for k in self.keys]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_INT_FIELDS = ("n_per_key", "length", "primer_notes", "drift_window", "drift_patience", "n_boot", "seed",
               "batch_size", "ceiling_tunes")


def _coerce(name: str, value: Any, tp: Any) -> Any:
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{name}: expected {what}, got {value!r}")

    if name == "models":
        if not isinstance(value, dict) or not value:
            raise bad("a mapping label -> model name, checkpoint or config (e.g. {lstm: folk-lstm})")
        return {str(k): str(v) for k, v in value.items()}
    if name in ("windows", "positions"):
        items = value if isinstance(value, (list, tuple)) else [value]
        try:
            out = [int(v) for v in items]
        except (TypeError, ValueError):
            raise bad("a list of positive whole numbers") from None
        if not out or min(out) < 1:
            raise bad("a list of positive whole numbers")
        return out
    if name == "keys":
        if isinstance(value, str) and value.strip().lower() == "all":
            return "all"
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not items:
            raise bad("'all' or a list of key names")
        return [parse_key(str(k).strip()).name for k in items]  # KeyNameError lists the forms
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
        if type(None) in typing.get_args(tp):
            return None
        raise bad("a value")
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise bad("a whole number")
        if int(value) < (0 if name in ("primer_notes", "seed") else 1):
            raise bad("a positive whole number")
        return int(value)
    if name in ("temperature", "level"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise bad("a number > 0")
        if name == "level" and not value < 1:
            raise bad("a coverage in (0, 1)")
        return float(value)
    if name == "profile":
        return profile_name(str(value))  # KeyNameError lists the valid profiles
    return str(value)


def retention_config(data: dict | None = None, overrides: list[str] | tuple[str, ...] | None = None
                     ) -> RetentionConfig:
    """A :class:`RetentionConfig` from a mapping and ``key=value`` overrides (values as YAML)."""
    data = dict(data or {})
    for item in overrides or ():
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value, e.g. n_per_key=8")
        parts = key.strip().split(".")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if parts[0] == "models" and len(parts) == 2:  # --set models.lstm=path.pt
            data["models"] = {**dict(data.get("models") or DEFAULT_MODELS), parts[1]: value}
        elif len(parts) == 1:
            data[parts[0]] = value
        else:
            raise ConfigError(f"override {item!r}: only models.LABEL=... has a dotted key")
    hints = typing.get_type_hints(RetentionConfig)
    names = [f.name for f in fields(RetentionConfig)]
    values = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown retention config key {key!r}; valid keys: {', '.join(names)}")
        values[key] = _coerce(key, value, hints[key])
    return RetentionConfig(**values)


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
