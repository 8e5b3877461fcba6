"""Recurrent models: one language model and one piano-roll model, cell = rnn | lstm | gru.

Both share :func:`recurrent`, the fused PyTorch core (cuDNN on GPU, oneDNN on CPU). Training
always runs the fused kernels; :func:`trace_gates` recomputes the gates step by step from the
weights with PyTorch's own equations, for analysis only.

Nothing here calls ``.cuda()``: states are made with ``weight.new_zeros`` and follow the module.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from musicgate.errors import ConfigError
from musicgate.nn.cells import cell_names, get_cell
from musicgate.nn.keyinput import KeyInput
from musicgate.nn.lookback import DEFAULT_SPAN, Lookback
from musicgate.nn.tonic import TonicFrame

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def _check_cell(cell: str) -> str:
    return get_cell(cell).name


def __getattr__(name: str):
    if name == "CELLS":  # the registered cell names (a registry, so computed on use)
        return cell_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check_dropout(dropout: float) -> float:
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
    return float(dropout)


def recurrent(cell: str, input_size: int, hidden: int, layers: int = 1,
              dropout: float = 0.0) -> nn.RNNBase:
    """The shared recurrent core of a registered cell (:mod:`musicgate.nn.cells`), batch first.

    Parameters
    ----------
    cell : a registered cell name: "rnn" (tanh), "lstm", "gru", ...
    input_size, hidden, layers : int
        Features per time step, units per layer, stacked layers.
    dropout : float
        Dropout between stacked layers (ignored when ``layers == 1``).

    Returns
    -------
    nn.RNNBase
        Maps (B, T, input_size) to (B, T, hidden) outputs and a state of shape (layers, B, hidden)
        (a pair ``(h, c)`` for the LSTM).
    """
    spec = get_cell(cell)
    _check_sizes(input_size=input_size, hidden=hidden, layers=layers)
    dropout = _check_dropout(dropout) if layers > 1 else 0.0
    core = spec.build(input_size, hidden, layers, dropout)
    core.cell_name = spec.name
    return core


def cell_of(core: nn.Module) -> str:
    """The registered cell name of a core built by :func:`recurrent` (or a plain nn.RNN/LSTM/GRU)."""
    name = getattr(core, "cell_name", None)
    if name is None:
        name = "lstm" if isinstance(core, nn.LSTM) else "gru" if isinstance(core, nn.GRU) else "rnn"
    return name


def zero_state(rnn: nn.Module, batch: int) -> State:
    """Zero state of a core for ``batch`` rows, on the core's device (a pair for the LSTM)."""
    if hasattr(rnn, "init_state"):
        return rnn.init_state(batch)
    weight = rnn.weight_hh_l0
    h = weight.new_zeros((rnn.num_layers, batch, rnn.hidden_size))
    return (h, h.clone()) if get_cell(cell_of(rnn)).state_pair else h


def run_core(rnn: nn.Module, x: torch.Tensor, state: State | None,
             lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
    """Run the core; with ``lengths`` the padded steps never touch the state."""
    if lengths is None:
        return rnn(x, state)
    lengths = torch.as_tensor(lengths).to("cpu", torch.int64)
    if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]:
        raise ConfigError(f"lengths must be {x.shape[0]} values in [1, {x.shape[1]}], "
                          f"got shape {tuple(lengths.shape)}")
    if not isinstance(rnn, nn.RNNBase):  # a registered core of our own takes lengths itself
        return rnn(x, state, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = rnn(packed, state)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


class RecurrentLM(nn.Module):
    """Token language model: embedding -> stacked recurrent layers -> linear head.

    Parameters
    ----------
    vocab_size : int
    cell : a registered cell name (:func:`musicgate.nn.cells.cell_names`)
    hidden, layers : int
    embed : int, optional
        Embedding width (default: ``hidden``).
    dropout : float
        Dropout on the embeddings, between layers and before the head.
    """

    def __init__(self, *, vocab_size: int, cell: str = "lstm", hidden: int = 256, layers: int = 2,
                 embed: int | None = None, dropout: float = 0.0, form_inputs: int = 0,
                 barline_ids: Sequence[int] = (), form_dropout: float = 0.0,
                 lookback: Sequence[int] = (), lookback_clock: dict | None = None,
                 lookback_span: int = DEFAULT_SPAN, lookback_runs: bool = False,
                 lookback_position: bool = False, lookback_copy: bool = False, key_input: Sequence[int] = (),
                 key_dropout: float = 0.0, tonic_relative: Sequence[int] = ()) -> None:
        super().__init__()
        _check_cell(cell)
        embed = hidden if embed is None else embed
        _check_sizes(vocab_size=vocab_size, hidden=hidden, layers=layers, embed=embed)
        self.vocab_size, self.cell, self.hidden, self.layers = vocab_size, cell, hidden, layers
        self.embed_size, self.dropout_p = embed, _check_dropout(dropout)
        self._embed_arg = None if embed == hidden else embed
        self.embed = nn.Embedding(vocab_size, embed)
        self.drop = nn.Dropout(self.dropout_p)
        self.rnn = recurrent(cell, embed, hidden, layers, self.dropout_p)
        self.head = nn.Linear(hidden, vocab_size)
        self.form = FormInputs(form_inputs, barline_ids, vocab_size, embed, form_dropout) if form_inputs else None
        self.look = Lookback(lookback, lookback_clock, vocab_size, embed, lookback_span, lookback_runs,
                             lookback_position, lookback_copy, hidden) if len(lookback) else None
        self.key = KeyInput(key_input, vocab_size, embed, key_dropout) if len(key_input) else None
        self.frame = TonicFrame(tonic_relative, vocab_size) if len(tonic_relative) else None
        self._base_arity = 2 if get_cell(cell).state_pair else 1

    @property
    def model_args(self) -> dict:
        """Everything needed to rebuild this model: ``RecurrentLM(**model.model_args)``."""
        args = dict(vocab_size=self.vocab_size, cell=self.cell, hidden=self.hidden,
                    layers=self.layers, embed=self._embed_arg, dropout=self.dropout_p)
        if self.form is not None:
            args.update(self.form.args)
        if self.look is not None:
            args.update(self.look.args)
        if self.key is not None:
            args.update(self.key.args)
        if self.frame is not None:
            args.update(self.frame.args)
        return args

    @property
    def has_form_inputs(self) -> bool:
        """True when the model reads the bar count and the bars left of a planned length."""
        return self.form is not None

    @property
    def has_lookback(self) -> bool:
        """True when the model reads what the tune played k bars ago (:mod:`musicgate.nn.lookback`)."""
        return self.look is not None

    @property
    def has_key_input(self) -> bool:
        """True when the model reads the asked key before every token (:mod:`musicgate.nn.keyinput`)."""
        return self.key is not None

    @property
    def has_tonic_frame(self) -> bool:
        """True when the model reads and writes pitches relative to the key's tonic (:mod:`musicgate.nn.tonic`)."""
        return self.frame is not None

    def init_state(self, batch: int) -> State:
        """Zero state on the model's device: (layers, batch, hidden), a pair for the LSTM."""
        return zero_state(self.rnn, batch)

    def _split(self, state):
        """(core state, form counters or None, lookback memo or None, last key or None, last frame
        key or None) of a state this model returned: the core's tensors, then the counters (1, B, 2)
        while a plan is in use, the memo's two, the key input's last KEY id (1, B, 1) and the tonic
        frame's (1, B, 1)."""
        extra = len(state) - self._base_arity if isinstance(state, tuple) else 0
        if extra <= 0:
            return state, None, None, None, None
        core = state[:self._base_arity]
        core = core if self._base_arity == 2 else core[0]
        rest = list(state[self._base_arity:])
        frame = rest.pop() if self.frame is not None else None
        key = rest.pop() if self.key is not None else None
        memo = (rest.pop(-2), rest.pop()) if self.look is not None else None
        counters = rest.pop() if self.form is not None and rest else None
        return core, counters, memo, key, frame

    def inputs(self, ids: torch.Tensor, state=None, plan=None) -> tuple[torch.Tensor, tuple]:
        """The core's input at every position (token embedding, plus the form and lookback
        embeddings of a model with them) and the state that goes with the core's: the form counters
        after the last position (while a plan is in use), the lookback memo and the last KEY ids, as a
        tuple. A model with a tonic frame reads ``ids`` in their frames."""
        x, carried, _, _ = self._inputs(ids, state, plan)
        return x, carried

    def _inputs(self, ids, state, plan):
        """:meth:`inputs`, what the lookback read (its ids and runs, for the copy head; or None) and
        the tonic frame of each position (or None)."""
        _, counters, memo, key, last = self._split(state)
        rows = None
        if self.frame is not None:
            rows, last = self.frame.rows(ids, last)
            ids = self.frame.inward(ids, rows)
        x = self.embed(ids)
        carried: tuple = ()
        reads = None
        if self.form is not None:
            extra, counters = self.form(ids, counters, plan)
            x = x + extra
            carried += () if counters is None else (counters,)
        if self.look is not None:
            look, runs, pos, memo = self.look.read(ids, memo)
            x = x + self.look.embed(look, runs, pos)
            carried += memo
            reads = (look, runs)
        if self.key is not None:
            extra, key = self.key(ids, key)
            x = x + extra
            carried += (key,)
        if self.frame is not None:
            carried += (last,)
        return x, carried, reads, rows

    def forward(self, ids: torch.Tensor, state: State | None = None,
                lengths: torch.Tensor | None = None, plan=None) -> tuple[torch.Tensor, State]:
        """Logits for the next token at every position.

        Parameters
        ----------
        ids : LongTensor (B, T)
        state : optional state from :meth:`init_state` or a previous call.
        lengths : Tensor (B,), optional
            Valid length of each row; padding after it never affects outputs or the state.
        plan : models with form inputs only: ``"tune"`` (each row is a whole tune from BOS; its
            bars are counted from the row, as in training), a (B,) tensor of planned bar lines per
            row (generation; -1: no plan), or None (continue the counters a previous call left in
            ``state``, else no form inputs).

        Returns
        -------
        logits : Tensor (B, T, vocab_size)
        state : the state after each row's last valid step; after the core's tensors come the form
            counters (while a plan is in use), the lookback memo and the last KEY ids (key inputs,
            tonic frame), so :meth:`step` goes on counting, looking back and reading the key.
        """
        core_state = self._split(state)[0]
        x, carried, reads, rows = self._inputs(ids, state, plan)
        out, core_state = run_core(self.rnn, self.drop(x), core_state, lengths)
        if carried:
            core_state = (*core_state, *carried) if isinstance(core_state, tuple) else (core_state, *carried)
        out = self.drop(out)
        logits = self.head(out)
        if self.look is not None and self.look.copy:
            logits = logits + self.look.copy_bias(out, *reads)
        if rows is not None:
            logits = self.frame.outward(logits, rows)
        return logits, core_state

    def replan(self, state: State, rows: torch.Tensor, totals: torch.Tensor) -> State:
        """``state`` with the planned bar lines of ``rows`` set to ``totals`` (a model reading a plan; the
        sampler stretches a plan whose first part ran long). Other states come back as they are."""
        _, counters, *_ = self._split(state)
        if counters is None:
            return state
        counters = counters.clone()
        counters[0, rows, 1] = totals.to(counters.dtype)
        i = self._base_arity
        return (*state[:i], counters, *state[i + 1:])

    def step(self, token: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One streaming step, O(1) per token: token (B,) -> logits (B, vocab_size), new state."""
        logits, state = self.forward(token.reshape(-1, 1), state)
        return logits[:, 0], state


class FormInputs(nn.Module):
    """Where a tune stands in its planned length: two embeddings added to the token embedding.

    At each position the model reads the number of bar lines so far (``count``) and the bar lines
    still to come (``total - count``), each clipped to ``buckets - 1``; a row without a plan
    (``total = -1``) reads a separate "no plan" entry for both. Both tables start at zero, so a
    model fine-tuned from one without them starts out computing exactly what it did. In training,
    ``dropout`` of the rows read "no plan", so the model also generates without one (exact-length
    studies, long streams). The counters ``(count, total)`` travel in the state as a (1, B, 2)
    tensor, so streaming generation keeps counting.
    """

    def __init__(self, buckets: int, barline_ids: Sequence[int], vocab_size: int, embed: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_sizes(form_inputs=buckets)
        ids = sorted({int(i) for i in barline_ids})
        if not ids or ids[0] < 0 or ids[-1] >= vocab_size:
            raise ConfigError(f"form inputs need the bar-line token ids of the vocabulary (0..{vocab_size - 1}), "
                              f"got {list(barline_ids)!r}")
        self.buckets, self.barline_ids, self.dropout_p = int(buckets), ids, _check_dropout(dropout)
        is_bar = torch.zeros(vocab_size, dtype=torch.long)
        is_bar[ids] = 1
        self.register_buffer("is_bar", is_bar, persistent=False)
        self.count = nn.Embedding(buckets + 1, embed)
        self.left = nn.Embedding(buckets + 1, embed)
        nn.init.zeros_(self.count.weight)
        nn.init.zeros_(self.left.weight)

    @property
    def args(self) -> dict:
        return dict(form_inputs=self.buckets, barline_ids=list(self.barline_ids), form_dropout=self.dropout_p)

    def forward(self, ids: torch.Tensor, counters: torch.Tensor | None, plan) -> tuple[torch.Tensor, torch.Tensor | None]:
        b = ids.shape[0]
        bars = self.is_bar[ids].cumsum(1)                                     # (B, T) bar lines so far
        if isinstance(plan, str):
            if plan != "tune":
                raise ConfigError(f"plan must be 'tune', a tensor of bar counts or None, not {plan!r}")
            total = bars[:, -1].clone()
            start = torch.zeros_like(total)
        elif plan is not None:
            total = torch.as_tensor(plan, dtype=torch.long, device=ids.device).reshape(b)
            start = torch.zeros_like(total)
        elif counters is not None:
            start, total = counters[0, :, 0], counters[0, :, 1]
        else:
            none = torch.full_like(ids, self.buckets)
            return self.count(none) + self.left(none), None
        if self.training and self.dropout_p > 0:
            total = torch.where(torch.rand(b, device=ids.device) < self.dropout_p, torch.full_like(total, -1), total)
        count = bars + start[:, None]
        top = self.buckets - 1
        planned = (total >= 0)[:, None]
        c_idx = torch.where(planned, count.clamp(0, top), self.buckets)
        l_idx = torch.where(planned, (total[:, None] - count).clamp(0, top), self.buckets)
        counters = torch.stack([count[:, -1], total], dim=-1)[None]            # (1, B, 2)
        return self.count(c_idx) + self.left(l_idx), counters


class PianoRollRNN(nn.Module):
    """Polyphonic model: 88 binary keys per frame -> recurrent core -> 88 logits (sigmoid).

    The logits at frame t predict frame t + 1 from frames <= t (the caller shifts the roll).

    Parameters
    ----------
    cell : a registered cell name (:func:`musicgate.nn.cells.cell_names`)
    hidden, layers : int
    dropout : float
        Dropout between layers and before the head.
    input_dropout : float
        Dropout on the input roll (off by default: the inputs are binary notes).
    n_pitches : int
        Keys per frame (88: MIDI pitches 21-108).
    """

    def __init__(self, *, cell: str = "lstm", hidden: int = 128, layers: int = 1,
                 dropout: float = 0.0, input_dropout: float = 0.0, n_pitches: int = 88) -> None:
        super().__init__()
        _check_cell(cell)
        _check_sizes(hidden=hidden, layers=layers, n_pitches=n_pitches)
        self.cell, self.hidden, self.layers, self.n_pitches = cell, hidden, layers, n_pitches
        self.dropout_p, self.input_dropout_p = _check_dropout(dropout), _check_dropout(input_dropout)
        self.drop, self.input_drop = nn.Dropout(self.dropout_p), nn.Dropout(self.input_dropout_p)
        self.rnn = recurrent(cell, n_pitches, hidden, layers, self.dropout_p)
        self.head = nn.Linear(hidden, n_pitches)

    @property
    def model_args(self) -> dict:
        """Everything needed to rebuild this model: ``PianoRollRNN(**model.model_args)``."""
        return dict(cell=self.cell, hidden=self.hidden, layers=self.layers, dropout=self.dropout_p,
                    input_dropout=self.input_dropout_p, n_pitches=self.n_pitches)

    def init_state(self, batch: int) -> State:
        """Zero state on the model's device: (layers, batch, hidden), a pair for the LSTM."""
        return zero_state(self.rnn, batch)

    def forward(self, x: torch.Tensor, state: State | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """x (B, T, n_pitches) float in {0, 1} -> logits (B, T, n_pitches) for the next frame, state."""
        out, state = run_core(self.rnn, self.input_drop(x), state, lengths)
        return self.head(self.drop(out)), state


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _core_params(cell: str, input_size: int, hidden: int, layers: int) -> int:
    return get_cell(cell).core_params(input_size, hidden, layers)


def _model_params(cell: str, hidden: int, *, vocab_size: int | None, input_size: int | None,
                  layers: int, embed: int | None, output_size: int | None) -> int:
    if vocab_size is not None:
        width = hidden if embed is None else embed
        return vocab_size * width + _core_params(cell, width, hidden, layers) \
            + hidden * vocab_size + vocab_size
    head = 0 if output_size is None else hidden * output_size + output_size
    return _core_params(cell, input_size, hidden, layers) + head


def hidden_for_params(cell: str, n_params: int, *, vocab_size: int | None = None,
                      input_size: int | None = None, layers: int = 1, embed: int | None = None,
                      output_size: int | None = None) -> int:
    """Hidden size whose model has the parameter count closest to ``n_params``.

    Give ``vocab_size`` for a :class:`RecurrentLM` (embedding + core + head; ``embed`` defaults to
    the hidden size, as in the model), or ``input_size`` for a bare core, plus ``output_size`` to
    count a linear head (a :class:`PianoRollRNN` is ``input_size=88, output_size=88``).
    PyTorch's two bias vectors per layer are counted.

    Chung et al. (2014) matched ~20k parameters with tanh 100, GRU 46, LSTM 36 units on the
    88-key rolls; ``hidden_for_params(cell, 20_000, input_size=88)`` (the recurrent layer alone)
    gives 104, 48 and 39. Counting the 88-way output layer too gives 78, 41 and 34.
    """
    _check_cell(cell)
    if (vocab_size is None) == (input_size is None):
        raise ConfigError("hidden_for_params needs exactly one of vocab_size (language model) "
                          "or input_size (bare core / piano roll)")
    _check_sizes(n_params=n_params, layers=layers)

    def size(h: int) -> int:
        return _model_params(cell, h, vocab_size=vocab_size, input_size=input_size,
                             layers=layers, embed=embed, output_size=output_size)

    lo, hi = 1, 1
    while size(hi) < n_params:
        hi *= 2
    while lo < hi:  # smallest h with size(h) >= n_params (size grows with h)
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if size(mid) < n_params else (lo, mid)
    if lo > 1 and abs(size(lo - 1) - n_params) <= abs(size(lo) - n_params):
        return lo - 1
    return lo


@dataclass(frozen=True)
class GateTrace:
    """Per-layer, per-step activations recomputed from the weights.

    Every array has shape (layers, B, T, H) and dtype float32. Gates are read as attributes by
    name (``trace.forget_gate``); a gate the cell lacks reads as None.

    Attributes
    ----------
    cell : the registered cell name.
    h : hidden state after each step (all cells).
    gates : name -> array of the cell's traced values, in the spec's order (LSTM ``input_gate``,
        ``forget_gate``, ``cell_candidate``, ``output_gate``, ``cell_state``; GRU ``reset_gate``,
        ``update_gate``, ``candidate``; none for the RNN).
    keep : the name of the gate that multiplies the old memory, or None.
    sigmoid : names of the gates with values in (0, 1).
    """

    cell: str
    h: np.ndarray
    gates: dict = field(default_factory=dict)
    keep: str | None = None
    sigmoid: tuple = ()

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        gates = object.__getattribute__(self, "gates")
        if name in gates:
            return gates[name]
        if any(name in get_cell(c).gates for c in cell_names()):
            return None
        raise AttributeError(f"GateTrace has no {name!r}")

    def arrays(self) -> dict[str, np.ndarray]:
        """The values this cell has, by name (including ``h``)."""
        return {"h": self.h, **self.gates}


def _core_and_input(model_or_rnn: nn.Module, x: torch.Tensor, plan=None) -> tuple[nn.RNNBase, torch.Tensor]:
    if isinstance(model_or_rnn, RecurrentLM):
        ids = torch.as_tensor(x, dtype=torch.long, device=model_or_rnn.embed.weight.device)
        return model_or_rnn.rnn, model_or_rnn.inputs(ids, plan=plan)[0]
    rnn = model_or_rnn.rnn if isinstance(model_or_rnn, PianoRollRNN) else model_or_rnn
    if getattr(rnn, "cell_name", None) is not None and get_cell(rnn.cell_name).trace is not None:
        x = torch.as_tensor(x, dtype=next(rnn.parameters()).dtype, device=next(rnn.parameters()).device)
        return rnn, x
    if not isinstance(rnn, (nn.RNN, nn.LSTM, nn.GRU)):
        raise ConfigError(f"trace_gates takes a RecurrentLM, PianoRollRNN or nn.RNN/LSTM/GRU, "
                          f"got {type(model_or_rnn).__name__}")
    x = torch.as_tensor(x, dtype=rnn.weight_ih_l0.dtype, device=rnn.weight_ih_l0.device)
    if not rnn.batch_first:
        x = x.transpose(0, 1)
    return rnn, x


def _relu_step(gi, gh, h, c):
    return torch.relu(gi + gh), None, ()


@torch.no_grad()
def trace_gates(model_or_rnn: nn.Module, x: torch.Tensor | np.ndarray,
                state: State | None = None, plan=None) -> GateTrace:
    """Recompute every gate, per layer and step, with PyTorch's exact equations (eval mode).

    LSTM (rows of ``weight_ih`` ordered i|f|g|o): ``i, f, o = sigmoid(.)``, ``g = tanh(.)``,
    ``c' = f*c + i*g``, ``h' = o*tanh(c')``. GRU (rows r|z|n): ``r, z = sigmoid(.)``,
    ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h' = (1-z)*n + z*h``. RNN: ``h' =
    tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu). Dropout between layers is not applied.

    Parameters
    ----------
    model_or_rnn : RecurrentLM, PianoRollRNN, or nn.RNN / nn.LSTM / nn.GRU
    x : token ids (B, T) for a RecurrentLM; float features (B, T, F) otherwise
        ((T, B, F) for a core built with ``batch_first=False``).
    state : optional initial state, (layers, B, H) or an LSTM pair.
    plan : a RecurrentLM with form inputs: the bar plan its input reads (as in ``forward``; default
        none, the "no plan" entries).

    Returns
    -------
    GateTrace
        Arrays of shape (layers, B, T, H). A Python loop over time: for analysis, not training.
    """
    rnn, x = _core_and_input(model_or_rnn, x, plan)
    custom = get_cell(cell_of(rnn)).trace
    if custom is not None:
        return custom(rnn, x, state)
    if rnn.bidirectional or getattr(rnn, "proj_size", 0):
        raise ConfigError("trace_gates supports unidirectional cores without proj_size")
    spec = get_cell(cell_of(rnn))
    batch, steps = x.shape[0], x.shape[1]
    if state is None:
        state = zero_state(rnn, batch)
    h0, c0 = state if spec.state_pair else (state, None)
    step = _relu_step if getattr(rnn, "nonlinearity", "tanh") == "relu" else spec.step
    out: dict[str, list[torch.Tensor]] = {name: [] for name in ("h", *spec.gates)}
    layer_in = x
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}", None), getattr(rnn, f"bias_hh_l{k}", None)
        gi_all = nn.functional.linear(layer_in, w_ih, b_ih)          # (B, T, G*H)
        h, c = h0[k], (c0[k] if c0 is not None else None)
        per_step: dict[str, list[torch.Tensor]] = {name: [] for name in out}
        for t in range(steps):
            h, c, values = step(gi_all[:, t], nn.functional.linear(h, w_hh, b_hh), h, c)
            per_step["h"].append(h)
            for name, value in zip(spec.gates, values):
                per_step[name].append(value)
        for name, seq in per_step.items():
            out[name].append(torch.stack(seq, dim=1))                  # (B, T, H)
        layer_in = out["h"][-1]
    arrays = {name: torch.stack(v).float().cpu().numpy() for name, v in out.items()}
    h = arrays.pop("h")
    return GateTrace(cell=spec.name, h=h, gates=arrays, keep=spec.keep_gate, sigmoid=spec.sigmoid_gates)
