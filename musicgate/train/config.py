"""Typed run configs: dataclasses loaded from YAML, with dotted ``--set`` overrides.

A run is described by one :class:`RunConfig` holding a :class:`DataConfig`, a
:class:`ModelConfig` and a :class:`TrainConfig`. Every default lives in one place, the dataclass
fields below. YAML files name only what differs from the defaults::

    data: {dataset: folk, vocab: melody, window: 256}
    model: {cell: gru, params: 1_000_000}
    train: {steps: 20000, lr: 0.002}

An unknown key at any level, or a value of the wrong type, is a :class:`~musicgate.errors.ConfigError`
that names the key and lists the valid ones. The resolved config is written into the run folder
(:func:`save_config`), so a result always says how it was made.
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import yaml

from musicgate.errors import ConfigError
from musicgate.files import atomic_write_text
from musicgate.nn.cells import cell_names


@dataclass
class DataConfig:
    """Where the tokens come from and how they are cut into training examples.

    Attributes
    ----------
    dataset : name of a prepared dataset under ``datasets/`` (``musicgate data prepare NAME``)
        or the path of a prepared dataset folder.
    vocab : ``melody`` or ``event`` to check the dataset's vocabulary; None accepts either.
    mode : ``window`` (fixed-length windows, header + contiguous chunk), ``tune`` (whole tunes,
        padded, cropped to ``window + 1`` tokens) or ``medley`` (long streams of several tunes of
        one mode transposed into one key, one ``BOS KEY METER`` header at the start, tunes
        separated by their ``EOS``; see :mod:`musicgate.data.medley`). With
        ``train.carry_state`` a stream is read window by window over consecutive steps and the
        state is carried across them (truncated backpropagation through time; ``window`` is the
        truncation length). Without it, each step starts new streams of one window each: plain
        long windows of several tunes, the KEY token only at their start, ``medley_tokens``
        unused.
    window : tokens the model reads per example (targets are the next ``window`` tokens).
    transpose : random transposition per example (all 12 keys, within the pitch range); medley
        mode: a random key per stream.
    medley_tokens : medley mode with carried state: tokens per stream (rounded up to whole
        windows), e.g. 4096 = 16 windows of 256.
    medley_modes : medley mode: the modes to build streams of, comma-separated (``major,minor``),
        or ``all``; each needs enough tunes in the train and valid splits to fill one stream
        without repeating a tune.
    """

    dataset: str = "folk"
    vocab: str | None = None
    mode: str = "window"
    window: int = 256
    transpose: bool = True
    medley_tokens: int = 4096
    medley_modes: str = "major,minor"


@dataclass
class ModelConfig:
    """A :class:`~musicgate.nn.models.RecurrentLM`.

    Attributes
    ----------
    cell : ``rnn``, ``lstm`` or ``gru``.
    hidden : units per layer (default 256, or the size that ``params`` implies).
    params : target parameter count; the hidden size comes from
        :func:`~musicgate.nn.models.hidden_for_params`, so cells compare at equal size.
    layers, embed, dropout : see :class:`~musicgate.nn.models.RecurrentLM`.
    init : gate initialisation of a new model (:func:`musicgate.nn.init.init_gates`): ``default``
        (PyTorch's), ``forget1`` (keep-gate bias 1) or ``chrono`` (needs ``init_t_max``).
    init_t_max : the longest memory time scale, in steps, for ``chrono``.
    """

    cell: str = "lstm"
    hidden: int | None = None
    params: int | None = None
    layers: int = 2
    embed: int | None = None
    dropout: float = 0.0
    init: str = "default"
    init_t_max: float | None = None


@dataclass
class TrainConfig:
    """The optimisation loop.

    Attributes
    ----------
    steps : optimizer steps in the whole run.
    batch_size : examples per step, over all processes (the global batch).
    optimizer : ``adam`` or ``adamw``; ``lr``, ``weight_decay``, ``beta1``, ``beta2`` its settings.
    grad_clip : clip the gradient norm to this (0: no clipping).
    schedule : ``cosine`` (linear warmup over ``warmup`` steps, then cosine down to
        ``min_lr_ratio * lr``), ``plateau`` (multiply by ``plateau_factor`` after
        ``plateau_patience`` evaluations without improvement) or ``constant``.
    eval_every, eval_batches : validate every so many steps on a fixed set of windows.
    patience : stop after this many evaluations without a better validation loss (0: never).
    checkpoint_every : write ``last.pt`` every so many steps (and at the end).
    log_every : flush metrics and check the loss for NaN every so many steps.
    seed : seeds Python, numpy, torch and the data order, once.
    carry_state : carry the recurrent state from each step to the next for the same rows
        (detached: truncated backpropagation through time), reset to zeros where a stream
        starts; needs ``data.mode: medley``. The state is saved in checkpoints, so a resumed run
        continues exactly.
    device : ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
    precision : ``auto`` (bf16 autocast on CUDA, fp32 elsewhere), ``fp32`` or ``bf16``.
    """

    steps: int = 10_000
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0
    schedule: str = "cosine"
    warmup: int = 200
    min_lr_ratio: float = 0.1
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    eval_every: int = 500
    eval_batches: int = 20
    patience: int = 0
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 0
    carry_state: bool = False
    device: str = "auto"
    precision: str = "auto"


@dataclass
class RunConfig:
    """One training run: data, model and loop settings."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (YAML/JSON-safe)."""
        return dataclasses.asdict(self)


_CHOICES = {
    "data.mode": ("window", "tune", "medley"),
    "data.vocab": ("melody", "event", None),
    "train.optimizer": ("adam", "adamw"),
    "model.init": ("default", "forget1", "chrono"),
    "train.schedule": ("cosine", "plateau", "constant"),
    "train.precision": ("auto", "fp32", "bf16"),
}
_POSITIVE = ("data.window", "data.medley_tokens", "model.layers", "model.hidden", "model.params", "model.embed",
             "train.steps", "train.batch_size", "train.eval_every",
             "train.eval_batches", "train.checkpoint_every", "train.log_every")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp`` (int, float, str, bool, X | None, or a config dataclass)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    bad = ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r} "
                      f"({type(value).__name__})")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "false", "no", "off"):
            return value.lower() in ("true", "yes", "on")
        raise bad
    if isinstance(value, bool) or value is None:
        raise bad
    if tp is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                num = float(value.replace("_", ""))
            except ValueError:
                raise bad from None
            if num.is_integer():
                return int(num)
        raise bad
    if tp is float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.replace("_", ""))
            except ValueError:
                raise bad from None
        raise bad
    if tp is str:
        if isinstance(value, (str, int, float)):
            return str(value)
        raise bad
    raise ConfigError(f"{where}: unsupported field type {tp}")  # pragma: no cover


def _build(cls: type, data: Any, where: str) -> Any:
    """An instance of config dataclass ``cls`` from a mapping, checking every key and type."""
    if data is None:
        data = {}
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        data = dataclasses.asdict(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping of settings, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in fields(cls)]
    values = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            raise ConfigError(f"unknown config key {path!r}; valid keys"
                              f"{' in ' + where if where else ''}: {', '.join(names)}")
        values[key] = _convert(value, hints[key], path)
    obj = cls(**values)
    _check_values(obj, where)
    return obj


def _check_values(obj: Any, where: str) -> None:
    for f in fields(obj):
        path = f"{where}.{f.name}" if where else f.name
        value = getattr(obj, f.name)
        choices = cell_names() if path == "model.cell" else _CHOICES.get(path)
        if choices is not None and value not in choices:
            valid = ", ".join(str(c) for c in choices)
            raise ConfigError(f"{path}: {value!r} is not one of {valid}")
        if path in _POSITIVE and value is not None and value < 1:
            raise ConfigError(f"{path} must be a positive integer, got {value}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{path} must not be negative, got {value}")
    if where == "model" and obj.init == "chrono" and (obj.init_t_max is None or obj.init_t_max <= 1):
        raise ConfigError(f"model.init chrono needs model.init_t_max > 1 (the longest memory in steps), "
                          f"got {obj.init_t_max}")
    if where == "model" and obj.init != "default" and obj.cell == "rnn":
        raise ConfigError(f"model.init {obj.init} sets gate biases; the rnn cell has no gates (use default)")
    if where == "model" and obj.dropout >= 1:
        raise ConfigError(f"model.dropout must be in [0, 1), got {obj.dropout}")
    if where == "data":
        from musicgate.data.medley import parse_modes

        parse_modes(obj.medley_modes)
    if where == "" and obj.train.carry_state and obj.data.mode != "medley":
        raise ConfigError(f"train.carry_state needs data.mode=medley (streams read window by window), "
                          f"but data.mode is {obj.data.mode!r}; set data.mode=medley or train.carry_state=false")


def config_from_dict(data: dict | None) -> RunConfig:
    """A :class:`RunConfig` from a nested dict; unknown keys and wrong types raise ConfigError."""
    return _build(RunConfig, data or {}, "")


def apply_overrides(config: RunConfig, overrides: list[str] | tuple[str, ...] | None) -> RunConfig:
    """A copy of ``config`` with ``section.key=value`` overrides (values parsed as YAML scalars).

    Examples
    --------
    >>> apply_overrides(RunConfig(), ["model.hidden=512", "train.lr=1e-3"]).model.hidden
    512
    """
    data = config.to_dict()
    for item in overrides or ():
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. model.hidden=512")
        parts = key.split(".")
        node, cls = data, RunConfig
        for i, part in enumerate(parts):
            path = ".".join(parts[:i + 1])
            names = [f.name for f in fields(cls)]
            if part not in names:
                where = ".".join(parts[:i])
                raise ConfigError(f"unknown config key {path!r}; valid keys"
                                  f"{' in ' + where if where else ''}: {', '.join(names)}")
            tp = _hints(cls)[part]
            if i == len(parts) - 1:
                if dataclasses.is_dataclass(tp):
                    raise ConfigError(f"override {key!r} names a section; set one of its keys: "
                                      f"{', '.join(f.name for f in fields(tp))}")
                try:
                    value = yaml.safe_load(raw) if raw.strip() else ""
                except yaml.YAMLError:
                    value = raw
                node[part] = value
            else:
                if not dataclasses.is_dataclass(tp):
                    raise ConfigError(f"override {key!r}: {path!r} is a value, not a section")
                node, cls = node[part], tp
    return config_from_dict(data)


def load_config(path: "str | os.PathLike", overrides: list[str] | tuple[str, ...] | None = None) -> RunConfig:
    """Read a YAML config file and apply dotted overrides.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, a key is unknown or a value has the wrong type.
    """
    from musicgate.files import read_yaml

    path = Path(path)
    data = read_yaml(path)  # an empty file is an error, not the default 10,000-step run
    try:
        return apply_overrides(config_from_dict(data), overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_to_yaml(config: RunConfig) -> str:
    """The config as YAML text (every key, defaults included)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)


def save_config(config: RunConfig, path: "str | os.PathLike") -> Path:
    """Write the resolved config as YAML (atomically); :func:`load_config` reads it back."""
    return atomic_write_text(path, config_to_yaml(config))
