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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from musicgate.config import apply_overrides as _apply
from musicgate.config import build_config, check_fields, setting
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
    medley_mode_weights : medley mode, training streams: ``tokens`` draws each mode as often as its
        tokens in the split (the corpus's mix), ``equal`` each mode equally often (a rare mode gets as
        many streams as the others). Validation streams always use ``tokens``, so validation losses
        compare across runs.
    """

    dataset: str = "folk"
    vocab: Literal["melody", "event"] | None = None
    mode: Literal["window", "tune", "medley"] = "window"
    window: int = setting(256, ge=1)
    transpose: bool = True
    medley_tokens: int = setting(4096, ge=1)
    medley_modes: str = "major,minor"
    medley_mode_weights: Literal["tokens", "equal"] = "tokens"

    def __post_init__(self) -> None:
        from musicgate.data.medley import parse_modes

        check_fields(self, "data")
        parse_modes(self.medley_modes)


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
    start_from : a shipped model name, checkpoint file or run folder whose weights a new run starts
        from (fine-tuning, e.g. a shipped tune model on long medleys); cell, sizes and vocabulary
        must be the checkpoint's. ``init`` applies to new weights only, so it stays ``default``.
        A model with form inputs may start from one without them (the new tables start at zero).
    form_inputs : 0 (off) or the number of buckets of the form inputs
        (:class:`~musicgate.nn.models.FormInputs`): the model reads the bar lines so far and the
        bar lines left of a planned length, so it can shape a tune to end where it should. Needs
        the melody vocabulary with form and ``data.mode: tune`` (whole tunes).
    form_dropout : share of training rows that read "no plan", so the model also runs without one.
    lookback : bar distances (e.g. ``[1, 2, 4, 8]``; empty: off) of the lookback inputs
        (:mod:`musicgate.nn.lookback`): before each token the model reads the token that came next at
        the same point of the bar k bars earlier, so it can repeat a phrase. Needs the melody
        vocabulary (bar lines as tokens). A model may start from one without them (they start at zero).
    lookback_runs : with lookback inputs, also read for each distance how many tokens in a row
        matched what it looked up (the model notices a repeat it is in).
    lookback_position : with lookback inputs, also read the grid position in the bar.
    lookback_copy : with lookback inputs, add the copy head: a bias on the logit of each token the
        lookback names, read from the state and the current run (:mod:`musicgate.nn.lookback`).
    key_input : the key inputs (:mod:`musicgate.nn.keyinput`): before each token the model reads the
        tonic and mode of the asked key, so it need not carry them in its state. Needs a vocabulary
        with KEY tokens (melody, event). A model may start from one without them (they start at zero).
    key_dropout : share of training rows that read "no key", so the model also runs without it.
    tonic_relative : the tonic frame (:mod:`musicgate.nn.tonic`): the model reads and writes every
        tune as if its tonic were C (folk-rnn's transposition, inside the model), so a cadence or a
        mode is learned once, not once per tonic. Needs the melody vocabulary. It has no weights: a
        model may start from one without it.
    """

    cell: str = setting("lstm", choices=cell_names)
    hidden: int | None = setting(None, ge=1)
    params: int | None = setting(None, ge=1)
    layers: int = setting(2, ge=1)
    embed: int | None = setting(None, ge=1)
    dropout: float = setting(0.0, ge=0, lt=1)
    init: Literal["default", "forget1", "chrono"] = "default"
    init_t_max: float | None = setting(None, ge=0)
    start_from: str | None = None
    form_inputs: int = setting(0, ge=0)
    form_dropout: float = setting(0.25, ge=0, lt=1)
    lookback: list[int] = setting(factory=list, ge=1, le=64)
    lookback_runs: bool = False
    lookback_position: bool = False
    lookback_copy: bool = False
    key_input: bool = False
    key_dropout: float = setting(0.25, ge=0, lt=1)
    tonic_relative: bool = False

    def __post_init__(self) -> None:
        check_fields(self, "model")
        if len(set(self.lookback)) != len(self.lookback):
            raise ConfigError(f"model.lookback lists a bar distance twice: {self.lookback}")
        if (self.lookback_runs or self.lookback_position or self.lookback_copy) and not self.lookback:
            raise ConfigError("model.lookback_runs, lookback_position and lookback_copy read the lookback's memory; "
                              "set model.lookback too (e.g. [1, 2, 4, 8])")
        if self.start_from is not None and self.init != "default":
            raise ConfigError(f"model.start_from {self.start_from!r} starts from trained weights and model.init "
                              f"{self.init} applies to new weights only; leave model.init out")
        if self.init == "chrono" and (self.init_t_max is None or self.init_t_max <= 1):
            raise ConfigError(f"model.init chrono needs model.init_t_max > 1 (the longest memory in steps), "
                              f"got {self.init_t_max}")
        if self.init != "default" and self.cell == "rnn":
            raise ConfigError(f"model.init {self.init} sets gate biases; the rnn cell has no gates (use default)")


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
    final_bar_weight : whole tunes: the training loss counts each token of a tune's last bar (and its
        end) this many times (default 1: plain likelihood); validation stays unweighted. A cadence is
        one bar in sixteen, and this asks the model to learn it as well as the rest.
    final_weight_on : what ``final_bar_weight`` counts: ``bar`` (every token of the last bar and the end)
        or ``note`` (the last note's tokens, the closing bar line and the end: where a tune lands, not
        how it gets there).
    input_noise : share of the input pitch tokens moved by 1 or 2 semitones in training (the
        targets stay the real music; validation is clean): the model learns to continue through a
        wrong note, as it must when it reads its own samples (default 0: off).
    self_feed : share of the input pitch tokens replaced by a pitch the model itself samples there
        from a teacher-forced pass of the same batch (parallel scheduled sampling; the targets stay
        the real music; validation is clean): the model reads its own kind of mistakes, not random
        ones (default 0: off; costs one more forward pass a step).
    drift_noise : share of the training rows in which one phrase of 16-48 notes is moved by 2 or 5
        steps of the row's scale (the targets stay real; validation is clean): the melody's centre
        moves as it does when a sampled set drifts to the relative key, and the model learns to come
        back (default 0: off).
    key_loss : weight of an auxiliary loss that asks the model to name its stream's key at every
        token (medleys only): the cross-entropy of the stream's KEY token under a softmax over the
        output layer's KEY logits alone. It adds no weights (the KEY tokens never follow the header,
        so their logits are free to say the key) and trains the state to keep tonic and mode, not
        only the signature, through thousands of notes (default 0: off). The logged and validation
        losses stay the plain likelihood.
    only : train only the weights whose names start with one of these (``look.copy``: the copy
        head of a model started from trained weights); the rest stay as they are (default: all).
        ``musicgate train`` lists the names when one matches nothing.
    """

    steps: int = setting(10_000, ge=1)
    batch_size: int = setting(32, ge=1)
    optimizer: Literal["adam", "adamw"] = "adamw"
    lr: float = setting(2e-3, ge=0)
    weight_decay: float = setting(0.01, ge=0)
    beta1: float = setting(0.9, ge=0)
    beta2: float = setting(0.999, ge=0)
    grad_clip: float = setting(1.0, ge=0)
    schedule: Literal["cosine", "plateau", "constant"] = "cosine"
    warmup: int = setting(200, ge=0)
    min_lr_ratio: float = setting(0.1, ge=0)
    plateau_factor: float = setting(0.5, ge=0)
    plateau_patience: int = setting(2, ge=0)
    eval_every: int = setting(500, ge=1)
    eval_batches: int = setting(20, ge=1)
    patience: int = setting(0, ge=0)
    checkpoint_every: int = setting(500, ge=1)
    log_every: int = setting(50, ge=1)
    seed: int = setting(0, ge=0)
    carry_state: bool = False
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    final_bar_weight: float = setting(1.0, ge=1)
    final_weight_on: Literal["bar", "note"] = "bar"
    input_noise: float = setting(0.0, ge=0, lt=1)
    self_feed: float = setting(0.0, ge=0, lt=1)
    drift_noise: float = setting(0.0, ge=0, le=1)
    key_loss: float = setting(0.0, ge=0)
    only: list[str] = setting(factory=list)

    def __post_init__(self) -> None:
        check_fields(self, "train")
        if any(not isinstance(name, str) or not name.strip() for name in self.only):
            raise ConfigError(f"train.only must be a list of weight-name prefixes (e.g. [look.copy]), "
                              f"got {self.only!r}")


@dataclass
class RunConfig:
    """One training run: data, model and loop settings."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.train.carry_state and self.data.mode != "medley":
            raise ConfigError(f"train.carry_state needs data.mode=medley (streams read window by window), "
                              f"but data.mode is {self.data.mode!r}; set data.mode=medley or train.carry_state=false")
        if self.train.key_loss > 0 and self.data.mode != "medley":
            raise ConfigError(f"train.key_loss needs data.mode=medley (one key for a whole stream), but data.mode "
                              f"is {self.data.mode!r}; set data.mode=medley or train.key_loss=0")

    def to_dict(self) -> dict:
        """Plain nested dict (YAML/JSON-safe)."""
        return dataclasses.asdict(self)


def config_from_dict(data: dict | None) -> RunConfig:
    """A :class:`RunConfig` from a nested dict; unknown keys and wrong types raise ConfigError."""
    return build_config(RunConfig, data or {})


def apply_overrides(config: RunConfig, overrides: list[str] | tuple[str, ...] | None) -> RunConfig:
    """A copy of ``config`` with ``section.key=value`` overrides (values parsed as YAML scalars).

    Examples
    --------
    >>> apply_overrides(RunConfig(), ["model.hidden=512", "train.lr=1e-3"]).model.hidden
    512
    """
    return config_from_dict(_apply(RunConfig, config.to_dict(), overrides))


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
