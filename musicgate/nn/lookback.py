"""Lookback inputs: what the tune played k bars ago at this point of the bar.

Folk tunes repeat: bar 5 often starts like bar 1, the second half of a part answers the first, the
B part ends like the A part. A recurrent state can hold that only by remembering every note; the
lookback inputs hand it over instead (the idea of Magenta's Lookback RNN, here per token). Before
predicting each token, the model reads, for each distance k in ``bars``, the token that came next
at the same point k bars earlier, through a small embedding added to the token embedding. The
model learns when to copy it (a repeat) and when not (a new phrase).

**The point of the bar** of a position is its *clock* after the tokens read so far:
``(bar, pos, phase)``: bar lines so far, grid steps since the last bar line (or since the start),
and ``phase`` 1 when a DUR is due (after a PITCH, REST or TIE), else 0. The lookback of distance k
at clock ``(b, p, f)`` is the token that was read right after the clock was ``(b - k, p, f)``;
"none" (index ``vocab_size``) when that clock never occurred (a different rhythm, before the
start), when ``p >= span``, and at PAD tokens, which change nothing.

**Repeat runs and the bar position** (options ``runs`` and ``position``). A tune in the middle of a
repeat copies what came k bars earlier token after token; the model has to notice that it is in one.
With ``runs`` it reads, for each k, how many tokens in a row (up to and including the one just read)
were the lookback's token (classes 0, 1, 2-3, 4-7, 8-15, 16+), as Magenta's Lookback RNN reads
whether the last event repeated the one 1 or 2 bars before. With ``position`` it reads the grid
step of the bar where the next note would start (``pos``), as Lookback RNN reads its position in
the measure. Both go through zero-started tables, so a model fine-tuned from one without them
starts out computing exactly what it did.

**The copy head** (option ``copy``). Lookback RNN's softmax has "repeat the event 1 (2) bars ago"
classes, so copying a phrase is one confident choice per event. Here the same is done on the
logits: for each distance k the model adds a bias to the logit of the token the lookback names,
read from its last layer's output and the class of the current run (zero-started too); a token
that several distances name gets the largest of their biases. In a run of
8 or more tokens copied from 4 bars back, real tunes copy the next pitch too 0.89 of the time.

The memory travels in the model's state as two tensors, so streaming generation, long carried
streams and whole-tune training all compute the same thing: ``clock`` (1, B, 3 + 2K: the clock,
then per distance the lookback token last read out and the current run) and ``table``
(1, B, S): for the last ``max(bars) + 1`` bars, per point of the bar, ``bar * vocab_size + token``
(-1: empty; the bar number guards against stale entries of the ring). The live page's
JavaScript (``musicgate/teach/live/model.js``) keeps the same memory; :func:`reference_lookback`
is the plain statement of the rule, for tests.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from musicgate.errors import ConfigError

DEFAULT_SPAN = 192
"""Grid steps of a bar the memory holds (a 12/8 bar is 72 steps at 12 per quarter)."""

RANK = 32
"""Width of the lookback embedding before its projection to the model's embedding."""

RUN_BUCKETS = (0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5)
"""Run length (0 ... 16 and more tokens matched in a row) -> its class: 0, 1, 2-3, 4-7, 8-15, 16+."""
RUN_CLASSES = 6

COPY_SCALE = 10.0
"""The copy head's run bias is this times its table: Adam moves each weight by about the learning
rate per step, so a zero-started bias of +3 would take ~10,000 steps at lr 3e-4; scaled, ~1,000."""


def check_bars(bars: Sequence[int]) -> list[int]:
    """The lookback distances, sorted and distinct; each a whole number of bars >= 1."""
    try:
        out = sorted({int(k) for k in bars})
        ok = all(float(k) == int(k) and not isinstance(k, bool) for k in bars)
    except (TypeError, ValueError):
        ok, out = False, []
    if not ok or not out or out[0] < 1 or out[-1] > 64:
        raise ConfigError(f"lookback must be a list of bar distances between 1 and 64 (e.g. [4, 8]), got {bars!r}")
    return out


def check_clock(clock: dict, vocab_size: int) -> dict:
    """The token tables of the clock: ``dur_ids`` with their ``dur_steps``, ``pending_ids`` (tokens
    after which a DUR is due), ``line_ids`` (bar lines) and ``pad_id``."""
    need = ("dur_ids", "dur_steps", "pending_ids", "line_ids", "pad_id")
    if not isinstance(clock, dict) or any(k not in clock for k in need):
        raise ConfigError(f"lookback inputs need the clock tables {need} of the vocabulary, got {clock!r}")
    out = {k: [int(v) for v in clock[k]] for k in need[:-1]}
    out["pad_id"] = int(clock["pad_id"])
    ids = out["dur_ids"] + out["pending_ids"] + out["line_ids"] + [out["pad_id"]]
    if len(out["dur_ids"]) != len(out["dur_steps"]) or not out["line_ids"] or min(ids) < 0 \
            or max(ids) >= vocab_size or min(out["dur_steps"], default=1) < 1:
        raise ConfigError("lookback clock tables do not fit the vocabulary (ids out of range, "
                          "or a DUR without a positive step count)")
    return out


def reference_lookback(ids: Sequence[int], bars: Sequence[int], clock: dict, vocab_size: int,
                       span: int = DEFAULT_SPAN) -> np.ndarray:
    """(T, K) lookback ids of one token sequence, by the plain rule (a dict of every clock seen)."""
    steps = dict(zip(clock["dur_ids"], clock["dur_steps"]))
    pending, lines = set(clock["pending_ids"]), set(clock["line_ids"])
    seen: dict[tuple[int, int, int], int] = {}
    bar = pos = phase = 0
    out = np.full((len(ids), len(bars)), vocab_size, np.int64)
    for t, x in enumerate(int(i) for i in ids):
        if x == clock["pad_id"]:
            continue
        if pos < span:
            seen[(bar, pos, phase)] = x
        if x in lines:
            bar, pos = bar + 1, 0
        pos += steps.get(x, 0)
        phase = int(x in pending)
        for j, k in enumerate(bars):
            if pos < span and (bar - k, pos, phase) in seen:
                out[t, j] = seen[(bar - k, pos, phase)]
    return out


class Lookback(nn.Module):
    """Lookback inputs of a :class:`~musicgate.nn.models.RecurrentLM` (see the module docstring).

    Parameters
    ----------
    bars : the distances k, in bars.
    clock : the vocabulary's clock tables (:meth:`MelodyTokenizer.lookback_clock`).
    vocab_size, embed : the model's vocabulary and embedding width.
    span : grid steps per bar the memory holds.
    runs, position : also read the repeat runs and the position in the bar (module docstring).
    copy, hidden : add the copy head (module docstring), reading the last layer's ``hidden`` units.

    The projection starts at zero, so a model fine-tuned from one without lookback inputs starts
    out computing exactly what it did.
    """

    def __init__(self, bars: Sequence[int], clock: dict, vocab_size: int, embed: int,
                 span: int = DEFAULT_SPAN, runs: bool = False, position: bool = False,
                 copy: bool = False, hidden: int | None = None) -> None:
        super().__init__()
        self.bars, self.clock = check_bars(bars), check_clock(clock, vocab_size)
        if isinstance(span, bool) or not isinstance(span, int) or span < 1:
            raise ConfigError(f"lookback span must be a positive whole number of grid steps, got {span!r}")
        self.vocab_size, self.span, self.ring = int(vocab_size), int(span), max(self.bars) + 1
        steps = torch.zeros(vocab_size, dtype=torch.long)
        steps[self.clock["dur_ids"]] = torch.as_tensor(self.clock["dur_steps"])
        pending = torch.zeros(vocab_size, dtype=torch.long)
        pending[self.clock["pending_ids"]] = 1
        line = torch.zeros(vocab_size, dtype=torch.long)
        line[self.clock["line_ids"]] = 1
        for name, value in (("steps", steps), ("pending", pending), ("line", line),
                            ("k", torch.as_tensor(self.bars))):
            self.register_buffer(name, value, persistent=False)
        n = len(self.bars)
        self.table = nn.Embedding(n * (vocab_size + 1), RANK)
        self.proj = nn.Linear(n * RANK, embed, bias=False)
        nn.init.zeros_(self.proj.weight)
        self.runs, self.position = bool(runs), bool(position)
        if self.runs:
            self.register_buffer("run_bucket", torch.as_tensor(RUN_BUCKETS), persistent=False)
            self.run_table = nn.Embedding(n * RUN_CLASSES, RANK)
            self.run_proj = nn.Linear(n * RANK, embed, bias=False)
            nn.init.zeros_(self.run_proj.weight)
        if self.position:
            self.pos = nn.Embedding(self.span + 1, embed)
            nn.init.zeros_(self.pos.weight)
        self.copy = bool(copy)
        if self.copy:
            if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
                raise ConfigError(f"lookback copy needs the model's hidden size (a whole number >= 1), got {hidden!r}")
            self.register_buffer("copy_bucket", torch.as_tensor(RUN_BUCKETS), persistent=False)
            self.copy_state = nn.Linear(hidden, n)
            self.copy_run = nn.Embedding(n * RUN_CLASSES, 1)
            for w in (self.copy_state.weight, self.copy_state.bias, self.copy_run.weight):
                nn.init.zeros_(w)

    @property
    def args(self) -> dict:
        extra = {"lookback_runs": True} if self.runs else {}
        extra.update({"lookback_position": True} if self.position else {})
        extra.update({"lookback_copy": True} if self.copy else {})
        return dict(lookback=list(self.bars), lookback_clock=dict(self.clock), lookback_span=self.span, **extra)

    @property
    def slots(self) -> int:
        return self.ring * self.span * 2

    def start(self, batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Empty memory for ``batch`` rows: clock (1, B, 3 + 2K) at the start (bar, pos, phase, then
        per distance the lookback id last read out and the run of tokens that matched it), table
        (1, B, slots + 1)."""
        k = len(self.bars)
        clock = torch.zeros((1, batch, 3 + 2 * k), dtype=torch.long, device=device)
        clock[0, :, 3:3 + k] = self.vocab_size
        return clock, torch.full((1, batch, self.slots + 1), -1, dtype=torch.long, device=device)

    def _slot(self, bar: torch.Tensor, pos: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        ok = (bar >= 0) & (pos < self.span)
        slot = ((bar.remainder(self.ring) * self.span + pos.clamp(max=self.span - 1)) * 2 + phase)
        return torch.where(ok, slot, torch.full_like(slot, self.slots))  # the last column: a bin

    @torch.no_grad()
    def read(self, ids: torch.Tensor, memo=None):
        """Read ``ids`` (B, T) after ``memo`` (None: from the start): the lookback ids (B, T, K) for the
        next token, the runs (B, T, K) of tokens up to and including each that matched what the
        lookback of distance k had read out for them (None unless the runs or the copy head need
        them: they cost a sixth of the loop), the grid position in the bar (B, T) after each, and the
        memo after them."""
        b, steps = ids.shape
        clock, table = self.start(b, ids.device) if memo is None else memo
        bar, pos, phase = clock[0, :, 0].clone(), clock[0, :, 1].clone(), clock[0, :, 2].clone()
        k = len(self.bars)
        prev, run = clock[0, :, 3:3 + k].clone(), clock[0, :, 3 + k:3 + 2 * k].clone()
        table = table[0].clone()
        v = self.vocab_size
        out = torch.empty((b, steps, k), dtype=torch.long, device=ids.device)
        track = self.runs or self.copy
        runs = torch.empty((b, steps, k), dtype=torch.long, device=ids.device) if track else None
        where = torch.empty((b, steps), dtype=torch.long, device=ids.device)
        for t in range(steps):
            x = ids[:, t]
            live = x != self.clock["pad_id"]
            if track:
                run = torch.where(live[:, None], torch.where(prev == x[:, None], run + 1, torch.zeros_like(run)), run)
            slot = torch.where(live, self._slot(bar, pos, phase), torch.full_like(bar, self.slots))
            table.scatter_(1, slot[:, None], (bar * v + x)[:, None])
            line = self.line[x].bool() & live
            bar = bar + line.long()
            pos = torch.where(line, torch.zeros_like(pos), pos) + torch.where(live, self.steps[x], 0)
            phase = torch.where(live, self.pending[x], phase)
            back = bar[:, None] - self.k[None]                                   # (B, K)
            slots = self._slot(back, pos[:, None].expand_as(back), phase[:, None].expand_as(back))
            got = table.gather(1, slots)
            ok = (got >= 0) & (got.div(v, rounding_mode="floor") == back) & (back >= 0) & ((pos < self.span) & live)[:, None]
            out[:, t] = torch.where(ok, got.remainder(v), torch.full_like(got, v))
            where[:, t] = pos
            if track:
                prev = torch.where(live[:, None], out[:, t], prev)
                runs[:, t] = run
        table[:, self.slots] = -1
        clock = torch.cat([torch.stack([bar, pos, phase], dim=-1), prev, run], dim=-1)
        return out, runs, where, (clock[None], table[None])

    def ids(self, ids: torch.Tensor, memo=None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(B, T, K) lookback ids of ``ids`` (B, T) read after ``memo`` (None: from the start), and the memo after them."""
        out, _, _, memo = self.read(ids, memo)
        return out, memo

    def embed(self, look: torch.Tensor, runs: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(B, T, embed) input embeddings of what :meth:`read` returned (``runs`` None without the runs)."""
        offsets = torch.arange(len(self.bars), device=look.device)
        z = self.table(look + offsets * (self.vocab_size + 1))                  # (B, T, K, RANK)
        x = self.proj(z.flatten(2))
        if self.runs:
            r = self.run_table(self.run_bucket[runs.clamp(max=len(RUN_BUCKETS) - 1)] + offsets * RUN_CLASSES)
            x = x + self.run_proj(r.flatten(2))
        if self.position:
            x = x + self.pos(pos.clamp(0, self.span))                           # span: past the memory
        return x

    def copy_biases(self, h: torch.Tensor, runs: torch.Tensor) -> torch.Tensor:
        """(B, T, K) the copy head's bias for each distance, before it is put on the token that distance names."""
        offsets = torch.arange(len(self.bars), device=runs.device) * RUN_CLASSES
        run = self.copy_run(self.copy_bucket[runs.clamp(max=len(RUN_BUCKETS) - 1)] + offsets)[..., 0]
        return self.copy_state(h) + COPY_SCALE * run

    def copy_bias(self, h: torch.Tensor, look: torch.Tensor, runs: torch.Tensor) -> torch.Tensor:
        """(B, T, V) what the copy head adds to the logits: for each distance k, a bias read from the
        last layer's output ``h`` (B, T, hidden) and the class of the run, on the token the lookback
        of distance k names (nothing where it names none); where several distances name one token,
        the largest of their biases (a sum would grow without bound in a loop, where every distance
        names the same token with a long run)."""
        b = self.copy_biases(h, runs)
        bias = h.new_zeros((*look.shape[:2], self.vocab_size + 1))
        return bias.scatter_reduce_(-1, look, b, reduce="amax", include_self=False)[..., :self.vocab_size]

    def forward(self, ids: torch.Tensor, memo=None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(B, T, embed) lookback embeddings of ``ids`` after ``memo``, and the memo after them."""
        look, runs, pos, memo = self.read(ids, memo)
        return self.embed(look, runs, pos), memo
