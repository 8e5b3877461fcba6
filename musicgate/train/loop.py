"""The training loop: one entry point from a laptop to ``torchrun`` on many GPUs.

:func:`train` reads a :class:`~musicgate.train.config.RunConfig`, trains a
:class:`~musicgate.nn.models.RecurrentLM` with the fused recurrent kernels (cuDNN / oneDNN; never a
Python loop over time), and leaves in the run folder::

    config.yaml   the resolved config          metrics.csv  per-step loss, lr, grad norm, tok/s
    last.pt       checkpoint (every N steps)   best.pt      checkpoint at the best validation loss
    loss.png      the loss curves              tb/          TensorBoard events (when installed)

Under ``torchrun --nproc-per-node N`` the same call runs DistributedDataParallel: each rank
takes its own contiguous share of every global batch (``train.batch_size`` is global), the loss
is normalised by the global target count, so N processes compute the same update as one process
with the same batch. Only rank 0 writes files.

A resumed run (``resume=True``) restores the weights, the optimizer, scheduler and early-stopping
state and every RNG (Python, numpy, torch, per rank); batches are a pure function of
``(seed, step)``. Its loss curve therefore continues exactly where the checkpoint left it.

Long memory (``data.mode: medley`` with ``train.carry_state: true``): each batch row is a long
stream read window by window over consecutive steps; the recurrent state after step ``s``
(detached: truncated backpropagation through time) is the initial state of step ``s + 1`` for the
same rows, and zeros where a stream starts. Each window still runs in one fused kernel call. The
carried state is saved in the checkpoint (all ranks' rows), so resuming stays exact; validation
reads held-out streams the same way.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from musicgate.nn.checkpoint import (check_resumable, load_checkpoint, make_checkpoint, rng_state, save_checkpoint,
                         set_rng_state)
from musicgate.train.config import ModelConfig, RunConfig, config_from_dict, save_config
from musicgate.errors import CheckpointError, ConfigError, DataError, RunFailure
from musicgate.data.dataset import WindowSampler, drifted_inputs, load_data, noisy_inputs, self_fed_inputs
from musicgate.music.keys import MODES
from musicgate.nn.models import RecurrentLM, State, hidden_for_params
from musicgate.train.util import Distributed, LossPlotter, MetricsLog, pick_device

DEFAULT_HIDDEN = 256


@dataclass
class TrainResult:
    """What a call to :func:`train` did.

    Attributes
    ----------
    run_dir : the run folder.
    step : optimizer steps taken in the whole run so far.
    stopped : ``done`` (all steps), ``early_stop``, ``interrupted`` (Ctrl-C) or ``stop_after``.
    losses : per-step training loss (global mean, nats per token) of this call, steps
        ``first_step + 1`` onwards.
    best_val_loss, val_loss : best and latest validation loss (None without evaluations).
    tokens_per_s : target tokens per second over this call's loop (all ranks together).
    loop_s, eval_s, save_s : seconds in the loop, of which validating and writing checkpoints
        (``evals`` and ``saves`` of them; best.pt writes count as both).
    """

    run_dir: Path
    step: int
    stopped: str
    first_step: int = 0
    losses: list = field(default_factory=list)
    best_val_loss: float | None = None
    val_loss: float | None = None
    tokens: int = 0
    loop_s: float = 0.0
    eval_s: float = 0.0
    save_s: float = 0.0
    evals: int = 0
    saves: int = 0
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.loop_s if self.loop_s > 0 else 0.0


def _start_from(model: RecurrentLM, tokenizer, spec: str) -> None:
    """Copy the weights of checkpoint ``spec`` into the new ``model`` (same cell, sizes and vocabulary)."""
    from musicgate.nn.hub import load_model

    trained, tok, meta = load_model(spec)
    ours, theirs = model.model_args, trained.model_args
    new = {k for k in ours if k not in theirs}
    if new - set(_ADDABLE) or {k: v for k, v in ours.items() if k not in new} != theirs:
        described = ", ".join(f"{k}={v}" for k, v in sorted(theirs.items()))
        raise ConfigError(f"model.start_from {spec!r} is a different model ({described}); set model.cell, "
                          f"model.hidden/params, layers, embed, form_inputs, lookback, key_input and tonic_relative to match it")
    if tok.fingerprint != tokenizer.fingerprint:
        raise ConfigError(f"model.start_from {spec!r} was trained with another vocabulary than this dataset's; "
                          f"prepare the dataset with the same tokenizer settings")
    added = tuple(p for k in new for p in _ADDABLE[k])
    missing, unexpected = model.load_state_dict(trained.state_dict(), strict=not added)
    if unexpected or any(not k.startswith(added) for k in missing):
        raise ConfigError(f"model.start_from {spec!r}: weights do not fit ({missing + unexpected})")


_ADDABLE = {"form_inputs": ("form.",), "barline_ids": (), "form_dropout": (),
            "lookback": ("look.",), "lookback_clock": (), "lookback_span": (),
            "lookback_runs": ("look.run_",), "lookback_position": ("look.pos.",), "lookback_copy": ("look.copy_",),
            "key_input": ("key.",), "key_dropout": (), "tonic_relative": ()}
"""Model arguments a run may add to the model it starts from, with the weights they bring (which
start at zero, so step 0 computes what the trained model did)."""


def final_bar_mask(targets: torch.Tensor, tokenizer, scope: str = "bar") -> torch.Tensor:
    """(B, T) bool: the targets of each row's last bar (after the last bar line that has notes after
    it; ``scope="note"``: from its last note on), EOS included; False in rows without EOS (cropped
    tunes) and for a vocabulary without bars."""
    lines = getattr(tokenizer, "barline_ids", None)
    if lines is None:
        return torch.zeros_like(targets, dtype=torch.bool)
    is_bar = torch.isin(targets, torch.as_tensor(lines, device=targets.device))
    starts = torch.as_tensor(tokenizer.note_starts(), device=targets.device)[targets]
    notes_after = starts.flip(1).cumsum(1).flip(1) - starts.long()  # notes strictly after each position
    pos = torch.arange(targets.shape[1], device=targets.device).expand_as(targets)
    if scope == "note":   # from the last note start on: pos >= it, i.e. pos > it - 1
        last = torch.where(starts.bool(), pos, torch.full_like(pos, 0)).max(1).values - 1
    else:
        last = torch.where(is_bar & (notes_after > 0), pos, torch.full_like(pos, -1)).max(1).values
    ended = (targets == tokenizer.eos_id).any(1)
    return (pos > last[:, None]) & ended[:, None] & (targets != tokenizer.pad_id)


def _bars_per_tune(data, barline_ids) -> np.ndarray:
    """(n_tunes,) number of bar-line tokens in each tune of a prepared dataset."""
    bars = np.concatenate([[0], np.cumsum(np.isin(np.asarray(data.tokens), barline_ids))])
    offsets = np.asarray(data.offsets, np.int64)
    return (bars[offsets[1:]] - bars[offsets[:-1]]).astype(np.int64)


def key_mode_counts(data, tokenizer, split: str = "train") -> dict[str, int]:
    """How many tunes of a prepared dataset's ``split`` have a KEY token of each mode (``{"major": 7870,
    "dorian": 30, ...}``): what a checkpoint records so that generation can say when a piece is asked in
    a mode the model rarely saw (:func:`musicgate.generation.api.generate_run`)."""
    tokens, offsets = np.asarray(data.tokens), np.asarray(data.offsets, np.int64)
    counts: dict[str, int] = {}
    for i in np.asarray(data.splits[split], np.int64):
        key = tokenizer.key_of(tokens[offsets[i]:min(offsets[i] + 4, offsets[i + 1])])
        if key is not None:
            counts[key.mode] = counts.get(key.mode, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def corpus_counts(data, model, tokenizer) -> dict[str, dict]:
    """What a checkpoint records of its training tunes for generation: ``modes`` (:func:`key_mode_counts`),
    ``register`` (:func:`register_of`) and, for a model with form inputs, ``bar_lines``
    (:func:`bar_line_counts`) and ``bar_lines_by_meter`` (:func:`bar_line_counts_by_meter`); {} without
    a train split."""
    if "train" not in data.splits:
        return {}
    out = {"modes": key_mode_counts(data, tokenizer)}
    register = register_of(data, tokenizer)
    if register:
        out["register"] = register
    if model.has_form_inputs:
        out["bar_lines"] = bar_line_counts(data, model.form.barline_ids)
        if getattr(tokenizer, "has_meter", False):
            out["bar_lines_by_meter"] = bar_line_counts_by_meter(data, tokenizer)
    return out


def register_of(data, tokenizer, split: str = "train") -> dict[str, float]:
    """The register of a prepared dataset's ``split``: the median over tunes of each tune's median pitch
    (MIDI, each note once), with the 5% and 95% quantiles as ``lo`` and ``hi`` (``{"median": 70.0, "lo":
    63.0, "hi": 76.0}`` for the folk corpus); {} when no tune has notes. What a checkpoint records so that
    generation can place each piece in its training tunes' octave (:func:`musicgate.generation.api.generate_run`)."""
    tokens, offsets = np.asarray(data.tokens), np.asarray(data.offsets, np.int64)
    pitch_of = np.asarray(tokenizer.pitch_of)
    medians = []
    for i in np.asarray(data.splits[split], np.int64):
        p = pitch_of[tokens[offsets[i]:offsets[i + 1]]]
        p = p[p >= 0]
        if len(p):
            medians.append(float(np.median(p)))
    if not medians:
        return {}
    lo, mid, hi = np.quantile(medians, [0.05, 0.5, 0.95])
    return {"median": float(mid), "lo": float(lo), "hi": float(hi)}


def bar_line_counts(data, barline_ids, split: str = "train") -> dict[str, int]:
    """How many tunes of a prepared dataset's ``split`` have each number of bar lines (``{"16": 812,
    ...}``, keys as strings for JSON): what a checkpoint records so that generation can draw each
    piece's bar plan from the corpus (:func:`musicgate.generation.api.generate_run`)."""
    per_tune = _bars_per_tune(data, barline_ids)[np.asarray(data.splits[split], np.int64)]
    values, counts = np.unique(per_tune[per_tune > 0], return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts)}


def bar_line_counts_by_meter(data, tokenizer, split: str = "train") -> dict[str, dict[str, int]]:
    """:func:`bar_line_counts` of each known time signature's tunes (``{"6/8": {"16": 97, ...}, ...}``;
    tunes whose METER token is unknown are left out): what a checkpoint records so that generation
    draws a piece's plan from the tunes of the meter it is in (a 4/4 tune's 16 bar lines are twice a
    2/4 tune's; :func:`musicgate.generation.api.generate`)."""
    per_tune = _bars_per_tune(data, tokenizer.barline_ids)
    tokens, offsets = np.asarray(data.tokens), np.asarray(data.offsets, np.int64)
    out: dict[str, dict[str, int]] = {}
    for i in np.asarray(data.splits[split], np.int64):
        meter = tokenizer.meter_of(tokens[offsets[i]:min(offsets[i] + 4, offsets[i + 1])])
        if meter is None or per_tune[i] <= 0:
            continue
        counts = out.setdefault(f"{meter[0]}/{meter[1]}", {})
        counts[str(int(per_tune[i]))] = counts.get(str(int(per_tune[i])), 0) + 1
    return {m: dict(sorted(c.items(), key=lambda kv: int(kv[0])))
            for m, c in sorted(out.items(), key=lambda kv: -sum(kv[1].values()))}


def resolve_model_args(model: ModelConfig, vocab_size: int, tokenizer=None) -> dict:
    """``RecurrentLM`` arguments for a model config; ``params`` sets the hidden size (form and
    lookback inputs, which are not counted there, take their token tables from ``tokenizer``)."""
    hidden = model.hidden
    if model.params is not None:
        matched = hidden_for_params(model.cell, model.params, vocab_size=vocab_size, layers=model.layers,
                                    embed=model.embed)
        if hidden is not None and hidden != matched:
            raise ConfigError(f"model.params={model.params} gives hidden={matched} for the {model.cell} "
                              f"cell, but model.hidden={hidden}; set only one (e.g. --set model.params=null)")
        hidden = matched
    args = dict(vocab_size=int(vocab_size), cell=model.cell, hidden=int(hidden or DEFAULT_HIDDEN),
                layers=model.layers, embed=model.embed, dropout=model.dropout)
    if model.form_inputs:
        if tokenizer is None or not getattr(tokenizer, "form", False):
            raise ConfigError("model.form_inputs needs the melody vocabulary with form (bar lines as tokens); "
                              "set model.form_inputs=0 for this dataset")
        args.update(form_inputs=model.form_inputs, barline_ids=[int(i) for i in tokenizer.barline_ids],
                    form_dropout=model.form_dropout)
    if model.lookback:
        if tokenizer is None or not hasattr(tokenizer, "lookback_clock"):
            raise ConfigError("model.lookback needs the melody vocabulary (bar lines as tokens); "
                              "set model.lookback=[] for this dataset")
        args.update(lookback=list(model.lookback), lookback_clock=tokenizer.lookback_clock())
        args.update({"lookback_runs": True} if model.lookback_runs else {})
        args.update({"lookback_position": True} if model.lookback_position else {})
        args.update({"lookback_copy": True} if model.lookback_copy else {})
    if model.key_input:
        if tokenizer is None or not hasattr(tokenizer, "key_base"):
            raise ConfigError("model.key_input needs a vocabulary with KEY tokens (melody or event); "
                              "set model.key_input=false for this dataset")
        args.update(key_input=[int(tokenizer.key_base), len(MODES)], key_dropout=model.key_dropout)
    if model.tonic_relative:
        args.update(tonic_relative=tonic_spec(tokenizer))
    return args


def key_loss_sum(logits: torch.Tensor, keys, key_base: int) -> torch.Tensor:
    """The summed cross-entropy, over every position of every row, of the row's key under a softmax
    over the KEY-token logits alone (``train.key_loss``).

    Parameters
    ----------
    logits : (B, T, vocab) output logits.
    keys : (B,) KEY token id of each row (one of the ``12 * len(MODES)`` named keys).
    key_base : id of the first KEY token.
    """
    n = 12 * len(MODES)
    ids = np.asarray([] if keys is None else keys, np.int64)
    if ids.shape != tuple(logits.shape[:1]) or ((ids < key_base) | (ids >= key_base + n)).any():
        raise DataError(f"train.key_loss needs the KEY token (ids {key_base}-{key_base + n - 1}) of each row's "
                        f"stream, got {ids.tolist()[:8]}; train it on medley streams (data.mode=medley)")
    keys = torch.as_tensor(ids - key_base, device=logits.device)
    read = logits[..., key_base:key_base + n].float()
    return F.cross_entropy(read.reshape(-1, n), keys.repeat_interleave(read.shape[1]), reduction="sum")


def tonic_spec(tokenizer) -> list[int]:
    """``[key_base, modes, first PITCH id, pitches]`` of the tonic frame for a melody vocabulary."""
    if tokenizer is None or getattr(tokenizer, "kind", None) != "melody":
        raise ConfigError("model.tonic_relative needs the melody vocabulary (PITCH and KEY tokens); "
                          "set model.tonic_relative=false for this dataset")
    token_of = np.asarray(tokenizer.token_of_pitch())
    lo, hi = tokenizer.pitch_range
    ids = token_of[lo:hi + 1]
    if (ids < 0).any() or (np.diff(ids) != 1).any():
        raise ConfigError("model.tonic_relative needs one PITCH token per semitone in a row; "
                          "this vocabulary's pitch tokens are not")
    return [int(tokenizer.key_base), len(MODES), int(ids[0]), int(len(ids))]


def resolved_config(config: RunConfig, vocab_size: int, tokenizer=None) -> RunConfig:
    """A copy of ``config`` with ``model.hidden`` filled in (what ``config.yaml`` records)."""
    data = config.to_dict()
    data["model"]["hidden"] = resolve_model_args(config.model, vocab_size, tokenizer)["hidden"]
    return config_from_dict(data)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def freeze_except(model: torch.nn.Module, only: list[str]) -> None:
    """Train only the weights whose names start with one of ``only`` (empty: all); a prefix that
    names no weight is a ConfigError listing the weights' top-level groups."""
    if not only:
        return
    names = [name for name, _ in model.named_parameters()]
    for prefix in only:
        if not any(name.startswith(prefix) for name in names):
            groups = sorted({".".join(name.split(".")[:2]) for name in names})
            raise ConfigError(f"train.only {prefix!r} names none of this model's weights; they start with "
                              f"{', '.join(groups)}")
    for name, p in model.named_parameters():
        p.requires_grad_(any(name.startswith(prefix) for prefix in only))


def _make_optimizer(model: torch.nn.Module, tc) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if tc.optimizer == "adamw" else torch.optim.Adam
    kwargs = {"weight_decay": tc.weight_decay} if tc.optimizer == "adamw" or tc.weight_decay else {}
    params = [p for p in model.parameters() if p.requires_grad]
    return cls(params, lr=tc.lr, betas=(tc.beta1, tc.beta2), **kwargs)


def _make_scheduler(opt: torch.optim.Optimizer, tc):
    if tc.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=tc.plateau_factor,
                                                          patience=tc.plateau_patience)
    if tc.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    warmup, total, floor = tc.warmup, tc.steps, tc.min_lr_ratio

    def cosine(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        progress = min(1.0, (s - warmup) / max(1, total - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(opt, cosine)


class _StopFlag:
    """Ctrl-C (or SIGTERM, as schedulers send) sets a flag; the loop saves after the current step.

    A second Ctrl-C aborts at once.
    """

    def __init__(self) -> None:
        self.set, self._old = False, {}

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def train(config: RunConfig, *, run_dir: "str | os.PathLike", resume: bool = False, quiet: bool = False,
          stop_after: int | None = None) -> TrainResult:
    """Train a language model as ``config`` says; files go to ``run_dir``.

    Parameters
    ----------
    config : the run config (see :mod:`musicgate.train.config`).
    run_dir : the run folder (created).
    resume : continue from ``run_dir/last.pt`` (a killed or stopped run).
    quiet : no progress bar or progress lines.
    stop_after : stop cleanly after this many steps in this call, saving ``last.pt`` as Ctrl-C
        does (for time-sliced jobs, and to test resuming).

    Raises
    ------
    ConfigError, DataError, CheckpointError
        Bad config, dataset or checkpoint (one line naming it).
    RunFailure
        The loss became NaN or infinite; ``last.pt`` keeps the last good state.
    """
    run_dir = Path(run_dir)
    dist = Distributed.from_env()
    try:
        device = pick_device(config.train.device, local_rank=dist.local_rank)
        dist.init(device)
        result = _Trainer(config, run_dir, dist, device, resume=resume, quiet=quiet).run(stop_after)
        # every rank finished (rank 0 writes the last files) before the group goes: gloo aborted a
        # rank now and then when its peer tore the group down first
        dist.barrier()
        return result
    finally:
        dist.close()


class _Trainer:
    """One run's state; :meth:`run` is the loop."""

    def __init__(self, config: RunConfig, run_dir: Path, dist: Distributed, device: torch.device, *,
                 resume: bool, quiet: bool) -> None:
        self.dist, self.device, self.run_dir, self.quiet = dist, device, run_dir, quiet
        tc, dc = config.train, config.data
        last = run_dir / "last.pt"
        if not resume and last.exists():
            raise ConfigError(f"run folder {run_dir} already holds a run (last.pt); continue it with "
                              f"--resume {run_dir} or choose another --run-dir")
        ckpt = None
        if resume:
            if not last.exists():
                raise CheckpointError(f"{last}: no checkpoint to resume from; start the run without --resume")
            ckpt = dist.broadcast(load_checkpoint(last) if dist.rank == 0 else None)
        _seed_everything(tc.seed + dist.rank)
        self.data = load_data(dc.dataset)
        tok = self.data.tokenizer
        if dc.vocab is not None and dc.vocab != tok.kind:
            raise DataError(f"dataset {dc.dataset!r} uses the {tok.kind} vocabulary but data.vocab is "
                            f"{dc.vocab!r}; prepare it with --vocab {dc.vocab} or set data.vocab={tok.kind}")
        self.config = resolved_config(config, len(tok), tok)
        torch.manual_seed(tc.seed)  # identical initial weights on every rank
        model = RecurrentLM(**resolve_model_args(self.config.model, len(tok), tok))
        if ckpt is None and self.config.model.init != "default":  # a resumed run has its weights
            from musicgate.nn.init import init_gates

            init_gates(model, self.config.model.init, t_max=self.config.model.init_t_max)
        if ckpt is None and self.config.model.start_from is not None:
            _start_from(model, tok, self.config.model.start_from)
        torch.manual_seed(tc.seed + dist.rank)
        if ckpt is not None:
            check_resumable(ckpt, model_args=model.model_args, tokenizer=tok, fingerprint=self.data.fingerprint)
            model.load_state_dict(ckpt.model_state)
        freeze_except(model, tc.only)
        self.model = model.to(device)
        self.opt = _make_optimizer(self.model, tc)
        self.sched = _make_scheduler(self.opt, tc)
        self.step, self.best, self.bad_evals, self.val_loss, self.elapsed = 0, None, 0, None, 0.0
        whole = dc.mode == "tune" and not tc.carry_state  # only whole tunes have a last bar to weigh
        self.final_bar_weight = tc.final_bar_weight if whole else 1.0
        self.tune_bars = None  # bar lines per tune, the plan of a model with form inputs (whole tunes only;
        if model.has_form_inputs and whole:  # windows read "no plan")
            self.tune_bars = _bars_per_tune(self.data, model.form.barline_ids)
        self._corpus = corpus_counts(self.data, model, tok)  # modes and bar plans, for generation
        self.carry, self.state = tc.carry_state, None  # the state carried into the next step (this rank's rows)
        self.local_batch = tc.batch_size // dist.world
        if ckpt is not None:
            self._restore(ckpt)
        self.net = dist.wrap(self.model, device)
        self.autocast = self._autocast(tc.precision)
        kw = dict(window=dc.window, mode=dc.mode, rank=dist.rank, world_size=dist.world,
                  medley_tokens=dc.medley_tokens if tc.carry_state else dc.window, medley_modes=dc.medley_modes)
        self.sampler = WindowSampler(self.data, "train", batch_size=tc.batch_size, transpose=dc.transpose,
                                     seed=tc.seed, medley_mode_weights=dc.medley_mode_weights, **kw)
        self.val_batches = self._validation_batches(kw)
        if dist.rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.config, run_dir / "config.yaml")
        self.metrics = MetricsLog(run_dir, enabled=dist.rank == 0, keep_until=self.step if resume else None)

    def _autocast(self, precision: str):
        use_bf16 = precision == "bf16" or (precision == "auto" and self.device.type == "cuda")
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16)

    def _validation_batches(self, kw: dict) -> list:
        tc = self.config.train
        if len(self.data.splits.get("valid", ())) == 0:
            return []
        valid = WindowSampler(self.data, "valid", batch_size=tc.batch_size, transpose=False,
                              seed=tc.seed + 1, **kw)
        n = len(valid) if self.config.data.mode == "tune" else tc.eval_batches
        if self.config.data.mode == "medley":  # whole streams
            n = -(-n // valid.stream_windows) * valid.stream_windows
        return [valid.batch(i) for i in range(n)]

    def _restore(self, ckpt) -> None:
        state = ckpt.trainer
        try:
            self.opt.load_state_dict(state["optimizer"])
            self.sched.load_state_dict(state["scheduler"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{ckpt.path}: optimizer or scheduler state does not fit "
                                  f"({exc}); start a new run") from None
        self.step, self.best = ckpt.step, ckpt.best_val_loss
        self.bad_evals, self.val_loss = int(state.get("bad_evals", 0)), state.get("val_loss")
        self.elapsed = float(state.get("elapsed_s", 0.0))
        rngs = state.get("rng") or []
        if len(rngs) == self.dist.world:
            set_rng_state(rngs[self.dist.rank])
        elif self.dist.rank == 0 and rngs:
            set_rng_state(rngs[0])
        if self.carry:
            self.state = self._local_state(state.get("carried_state"), ckpt.path)

    def _local_state(self, saved, path) -> State | None:
        """This rank's rows of the saved global carried state (ranks may differ from the saving run)."""
        if saved is None:
            return None
        parts = saved if isinstance(saved, (tuple, list)) else (saved,)
        rows = slice(self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch)
        if any(p.dim() != 3 or p.shape[1] != self.config.train.batch_size for p in parts):
            raise CheckpointError(f"{path}: the carried state does not fit train.batch_size="
                                  f"{self.config.train.batch_size}; resume with the batch size it was saved with")
        local = tuple(p[:, rows].to(self.device).contiguous() for p in parts)
        return local if isinstance(saved, (tuple, list)) else local[0]

    def _global_state(self):
        """The carried state of all ranks' rows on the CPU (what the checkpoint stores)."""
        if self.state is None or not self.carry:
            return None
        parts = _as_tuple(self.state)
        gathered = self.dist.gather(tuple(p.detach().cpu() for p in parts))
        whole = tuple(torch.cat([g[i] for g in gathered], dim=1) for i in range(len(parts)))
        return whole if isinstance(self.state, tuple) else whole[0]

    # -- one step ------------------------------------------------------------------------------
    def _loss_sum(self, net, batch, state: State | None = None,
                  final_bar_weight: float = 1.0) -> tuple[torch.Tensor, State | None, torch.Tensor]:
        """Summed cross-entropy of one batch from ``state`` (None: zeros), the state after it and the
        logits (the targets of each whole tune's last bar counted ``final_bar_weight`` times)."""
        y = batch.targets.to(self.device, non_blocking=True)
        logits, state = self._forward(net, batch, state)
        if final_bar_weight == 1.0:
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                                   ignore_index=self.data.tokenizer.pad_id, reduction="sum")
            return loss, state, logits
        each = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                               ignore_index=self.data.tokenizer.pad_id, reduction="none").reshape(y.shape)
        mask = final_bar_mask(y, self.data.tokenizer, self.config.train.final_weight_on)
        weight = 1.0 + (final_bar_weight - 1.0) * mask.float()
        return (each * weight).sum(), state, logits

    def _forward(self, net, batch, state: State | None) -> tuple[torch.Tensor, State | None]:
        """The logits of one batch from ``state`` (None: zeros), and the state after it."""
        x = batch.inputs.to(self.device, non_blocking=True)
        # Whole tunes are padded at the end and start from zeros, so the outputs at real tokens are the
        # same without packing; packing (needed only for a state to carry on) runs CPU RNNs step by step.
        lengths = batch.lengths if self.carry else None
        kw = {}
        if self.tune_bars is not None:  # whole tunes: each row's bar lines are its plan (cropped ones too)
            kw["plan"] = torch.as_tensor(self.tune_bars[batch.tunes], device=self.device)
        with self.autocast:
            return net(x, state, lengths=lengths, **kw)

    def _initial_state(self, batch, carried: State | None) -> State | None:
        """The state a batch starts from: the carried one where its rows continue a stream."""
        return carried if self.carry and batch.continues else None

    def _train_step(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        tc = self.config.train
        start = self._initial_state(batch, self.state)
        # what the model reads may differ from the real music (the targets never do); validation reads it clean
        x, tok, seed = batch.inputs, self.data.tokenizer, [tc.seed, self.step, self.dist.rank]
        if tc.self_feed > 0:  # the model's own pitches in place of some real ones (one pass without gradients)
            with torch.no_grad():
                guess, _ = self._forward(self.model, batch, start)
            x = self_fed_inputs(x, guess, tok, tc.self_feed, seed + [1])
        if tc.drift_noise > 0:
            x = drifted_inputs(x, tok, tc.drift_noise, seed + [2])
        if tc.input_noise > 0:
            x = noisy_inputs(x, tok, tc.input_noise, seed)
        if x is not batch.inputs:
            batch = dataclasses.replace(batch, inputs=x)
        loss_sum, state, logits = self._loss_sum(self.net, batch, start, final_bar_weight=self.final_bar_weight)
        if self.carry:
            self.state = _detach(state)
        objective = loss_sum
        if tc.key_loss > 0:
            objective = loss_sum + tc.key_loss * key_loss_sum(logits, batch.keys, int(tok.key_base))
        self.opt.zero_grad(set_to_none=True)
        (objective * (self.dist.world / max(batch.n_targets, 1))).backward()
        clip = self.config.train.grad_clip
        if clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        else:
            norm = torch.zeros((), device=self.device)
        self.opt.step()
        if not isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.sched.step()
        return loss_sum.detach(), norm.detach()

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean validation loss (nats per token) over the fixed validation batches."""
        if not self.val_batches:
            return None
        self.model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count, state = 0, None
        for batch in self.val_batches:
            loss, state, _ = self._loss_sum(self.model, batch, self._initial_state(batch, state))
            total += loss.double()
            count += batch.n_targets
        self.model.train()
        return float(self.dist.all_sum(total)) / max(count, 1)

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self, name: str) -> Path:
        t = time.perf_counter()
        path = self._save(name)
        self._result.save_s += time.perf_counter() - t
        self._result.saves += 1
        return path

    def _save(self, name: str) -> Path:
        path = self.run_dir / name
        trainer = {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                   "rng": self.dist.gather(rng_state()), "loader": {**self.sampler.state_dict(), "step": self.step},
                   "bad_evals": self.bad_evals, "val_loss": self.val_loss, "carried_state": self._global_state(),
                   "elapsed_s": self.elapsed + time.perf_counter() - self._t0}
        if self.dist.rank == 0:
            payload = make_checkpoint(model=self.model, config=self.config.to_dict(), tokenizer=self.data.tokenizer,
                                      dataset={"name": self.data.name, "fingerprint": self.data.fingerprint,
                                               **self._corpus},
                                      step=self.step, best_val_loss=self.best, trainer=trainer)
            save_checkpoint(payload, path)
        return path

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop_after: int | None) -> TrainResult:
        tc = self.config.train
        self._t0 = time.perf_counter()
        start, total = self.step, tc.steps
        result = TrainResult(run_dir=self.run_dir, step=start, stopped="done", first_step=start,
                             best_val_loss=self.best, val_loss=self.val_loss)
        self._result = result
        last_path = self.run_dir / "last.pt"
        if self.step >= total:
            result.last_checkpoint = last_path if last_path.exists() else None
            return result
        pending: list = []
        saved_step = start if start > 0 else None
        bar = self.metrics.progress(total=total, initial=start, quiet=self.quiet or self.dist.rank != 0)
        self.model.train()
        batch = self.sampler.batch(self.step)
        with _StopFlag() as flag, bar:
            while self.step < total:
                if stop_after is not None and self.step - start >= stop_after:
                    result.stopped = "stop_after"
                    break
                loss_sum, norm = self._train_step(batch)
                pending.append((self.step + 1, batch.n_targets, self.opt.param_groups[0]["lr"], loss_sum, norm))
                self.step += 1
                result.tokens += batch.n_targets
                if self.step < total:
                    batch = self.sampler.batch(self.step)
                s = self.step
                do_eval = s % tc.eval_every == 0 or s == total
                do_save = s % tc.checkpoint_every == 0 or s == total
                stop = flag.set if not self.dist.active else False
                if s % tc.log_every == 0 or do_eval or do_save or stop or s == total:
                    self._flush(pending, result, bar, saved_step)
                    pending = []
                    if self.dist.active:
                        stop = self.dist.any(flag.set)
                if do_eval and self._evaluate_and_maybe_stop(result):
                    result.stopped = "early_stop"
                    do_save = True
                if do_save or stop or result.stopped == "early_stop":
                    self.save("last.pt")
                    saved_step = self.step
                if stop:
                    result.stopped = "interrupted"
                    break
                if result.stopped == "early_stop":
                    break
            self._flush(pending, result, bar, saved_step)
            if saved_step != self.step:
                self.save("last.pt")
        result.loop_s = time.perf_counter() - self._t0
        result.step, result.best_val_loss, result.val_loss = self.step, self.best, self.val_loss
        result.last_checkpoint = last_path
        best = self.run_dir / "best.pt"
        result.best_checkpoint = best if best.exists() else None
        if self.dist.rank == 0:
            self.metrics.close()
            LossPlotter.plot(self.run_dir / "metrics.csv", self.run_dir / "loss.png")
            if not self.quiet and result.stopped == "interrupted":
                print(f"interrupted: saved {last_path} at step {self.step}; continue with --resume {self.run_dir}")
        return result

    def _flush(self, pending: list, result: TrainResult, bar, saved_step: int | None) -> None:
        if not pending:
            return
        sums = self.dist.all_sum(torch.stack([p[3] for p in pending]).double()).cpu().tolist()
        norms = torch.stack([p[4] for p in pending]).float().cpu().tolist()
        now = time.perf_counter() - self._t0
        rate = result.tokens / now if now > 0 else 0.0
        for (step, n, lr, _, _), s, g in zip(pending, sums, norms):
            loss = s / max(n, 1)
            if not math.isfinite(loss):
                self.metrics.close()
                kept = (f"{self.run_dir / 'last.pt'} (step {saved_step}) is kept" if saved_step
                        else "no checkpoint was written yet")
                raise RunFailure(f"training loss became {loss} at step {step}; stopped. {kept}; "
                                 "lower train.lr or set train.grad_clip, then --resume or restart")
            result.losses.append(loss)
            self.metrics.train_row(step, loss, lr, g, rate, self.elapsed + now)
        self.metrics.flush()
        bar.update(pending[-1][0] - bar.n)
        bar.set_postfix(loss=f"{result.losses[-1]:.3f}", tok_s=f"{rate:,.0f}")

    def _evaluate_and_maybe_stop(self, result: TrainResult) -> bool:
        tc = self.config.train
        t = time.perf_counter()
        val = self.evaluate()
        result.eval_s += time.perf_counter() - t
        result.evals += 1
        if val is None:
            return False
        if not math.isfinite(val):
            raise RunFailure(f"validation loss became {val} at step {self.step}; stopped. "
                             f"{self.run_dir / 'last.pt'} keeps the last good state")
        self.val_loss = val
        if isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.sched.step(val)
        improved = self.best is None or val < self.best
        if improved:
            self.best, self.bad_evals = val, 0
            self.save("best.pt")
        else:
            self.bad_evals += 1
        self.metrics.val_row(self.step, val, self.best)
        if not self.quiet and self.dist.rank == 0 and not self.metrics.tty:
            last = result.losses[-1] if result.losses else float("nan")
            print(f"step {self.step}/{tc.steps} loss {last:.4f} val {val:.4f} best {self.best:.4f} "
                  f"{result.tokens / max(time.perf_counter() - self._t0, 1e-9):,.0f} tok/s", flush=True)
        return bool(tc.patience) and self.bad_evals >= tc.patience


def _as_tuple(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def _detach(state: State | None) -> State | None:
    """The state cut from the graph (truncated backpropagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
