"""Batched, grammar-constrained sampling from a :class:`~musicgate.nn.models.RecurrentLM`.

Many sequences advance together: one ``model.step`` per position for the whole batch. The
recurrent state streams (O(1) memory per step); only the sampled ids are kept, so the length
is not bounded by the training window (10,000 notes work).

Every position's candidates are, in order of precedence:

1. the vocabulary's grammar (:func:`grammar_for`): always applied, so every sequence decodes. For
   melody models it is meter-true by default (``meter``; see :mod:`musicgate.tokens.grammar`):
   bar lines only where the bar is full, no note or rest across a bar line, EOS at a bar line or,
   once a bar line has come, after any note (a short last bar, as ABC writes one);
2. length control, also always applied. Lengths count *new notes* (PITCH tokens in the melody
   vocabulary, NOTE_ON in the event vocabulary; rests do not count). EOS is masked until a
   sequence has ``min_length`` notes; from there the model may end it (where the grammar allows
   EOS); with a bar plan and the default minimum, also once it is in its last planned bar. At
   ``length`` notes (the maximum) it is closed: no new note may start; the melody's last DUR is
   sampled, then EOS comes as soon as the grammar allows it (rests fill the bar only before the
   first bar line, or before an open repeat's ``:|``, which comes first); in the event vocabulary sounding notes get a SHIFT (sampled)
   and their NOTE_OFFs, then EOS. ``exact=True`` sets the minimum to the maximum: every sequence
   has exactly ``length`` new notes (for studies);
   With ``medley=True`` (models trained on medley streams, ``data.mode: medley``) EOS ends a *tune*, not
   the sequence, as in the training streams: the model may end a tune once it has ``min_length``
   notes, reads the EOS and starts the next tune in the same state (the grammar restarts after the
   sequence's header); the note counts run across tunes, and the sequence ends at ``length`` notes
   (:func:`medley_notes` decodes such a stream);
3. a token budget (``MAX_TOKENS_PER_NOTE`` per note): a model that stops playing notes (endless
   BAR, REST, SHIFT or VEL tokens) is then limited to note tokens, so every call ends;
4. the optional pushes, each off by default: ``key_mask`` (only pitches of the sequence's key
   signature may start a note), ``no_repeat_ngram`` (no pitch n-gram occurs twice), ``max_loop`` (a
   passage of 1-4 written bars played that many times in a row, by their pitches, may not go on: the
   bar that would begin its next playing may not start with the same pitch) and ``max_run``
   (at most that many notes of one pitch in a row, rests and ties between them not breaking the
   run: a guard against a sampled loop on one note; it bans no key, pitch or phrase repetition).
   Where 3 or 4 would leave no candidate, they are dropped for that step.

Then ``temperature``, ``top_k``, ``top_p`` and ``min_p`` shape the distribution (``min_p``: min-p
sampling, Nguyen et al. 2024: keep the tokens whose probability is at least ``min_p`` times the
likeliest one's, after the temperature; EOS is exempt, so where a piece ends stays the model's own
choice: truncating EOS too made 20 of 48 folk-gru tunes run to the length cap), and a token is drawn with
the inverse CDF (one uniform number a row) from a seeded :class:`torch.Generator` (reproducible for one seed, batch
size and device).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Sequence

import numpy as np

from musicgate.errors import ConfigError
from musicgate.music.keys import Key

DEFAULT_MIN_LENGTH = 32
"""New notes before a sequence may end (when no ``min_length`` is given; at most ``length``)."""
MAX_TOKENS_PER_NOTE = 16
"""Token budget per requested note (plus 64) before non-note tokens are masked."""
SMALL_BATCH = 32
"""Batches up to this many rows sample on one CPU thread (see :func:`threads_for`)."""
_BIG = 1e30


def check_sampling_args(*, length: int, temperature: float = 1.0, top_k: int | None = None,
                        top_p: float | None = None, no_repeat_ngram: int | None = None,
                        batch_size: int = 256, min_length: int | None = None,
                        min_p: float | None = None, max_run: int | None = None,
                        max_loop: int | None = None) -> None:
    """Raise :class:`ConfigError` (one line naming the value) for a bad sampling setting."""
    def is_int(v) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(length) or length < 1:
        raise ConfigError(f"length must be a positive number of notes, got {length!r}")
    if min_length is not None:
        if not is_int(min_length) or min_length < 1:
            raise ConfigError(f"min-length must be a positive number of notes, got {min_length!r}")
        if min_length > length:
            raise ConfigError(f"min-length {min_length} is greater than the maximum length {length}; "
                              "lower the minimum or raise the length")
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ConfigError(f"temperature must be a number > 0, got {temperature!r}") from None
    if not (t > 0 and math.isfinite(t)):
        raise ConfigError(f"temperature must be a finite number > 0 (1.0 samples the model as it is; "
                          f"lower is more conservative), got {temperature!r}")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ConfigError(f"top-k must be a whole number >= 1 (or left out), got {top_k!r}")
    if top_p is not None:
        try:
            p = float(top_p)
        except (TypeError, ValueError):
            raise ConfigError(f"top-p must be a number in (0, 1], got {top_p!r}") from None
        if not 0.0 < p <= 1.0:
            raise ConfigError(f"top-p must be in (0, 1] (1 keeps every token), got {top_p!r}")
    if min_p is not None:
        try:
            m = float(min_p)
        except (TypeError, ValueError):
            raise ConfigError(f"min-p must be a number in [0, 1), got {min_p!r}") from None
        if not 0.0 <= m < 1.0:
            raise ConfigError(f"min-p must be in [0, 1) (0 keeps every token; 0.2 keeps tokens at least a fifth "
                              f"as likely as the likeliest), got {min_p!r}")
    if no_repeat_ngram is not None and (not is_int(no_repeat_ngram) or no_repeat_ngram < 1):
        raise ConfigError(f"no-repeat-ngram must be a whole number of notes >= 1, got {no_repeat_ngram!r}")
    if max_run is not None and (not is_int(max_run) or max_run < 1):
        raise ConfigError(f"max-run must be a whole number of notes >= 1 (the most notes of one pitch in a row; "
                          f"left out: no limit), got {max_run!r}")
    if max_loop is not None and (not is_int(max_loop) or max_loop < 2):
        raise ConfigError(f"max-loop must be a whole number of times >= 2 (the most times a passage of 1-4 bars "
                          f"comes in a row; left out: no limit), got {max_loop!r}")
    if not is_int(batch_size) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")


@dataclasses.dataclass
class _Vocab:
    """Per-vocabulary masks and tables used at every step."""

    starts: np.ndarray        # (V,) bool: note-start tokens
    non_note: np.ndarray      # (V,) bool: tokens a stalled sequence may not take under the budget
    token_of_pitch: np.ndarray  # (128,) int: note-start token of each MIDI pitch, -1 if none
    form_ids: list[int]       # EOS and the bar-line tokens: min-p leaves them the model's probability
    is_line: np.ndarray       # (V,) bool: the bar-line tokens (BAR and the form marks), as a bar plan counts them

    @classmethod
    def of(cls, tok) -> "_Vocab":
        lines = [int(i) for i in getattr(tok, "barline_ids", ())]
        is_line = np.zeros(len(tok.vocab), bool)
        is_line[lines] = True
        return cls(tok.note_starts(), tok.fillers(), tok.token_of_pitch(), [int(tok.eos_id), *lines], is_line)


def _restrict(mask: np.ndarray, extra: np.ndarray, rows: np.ndarray | None = None) -> None:
    """``mask &= extra`` in place, on ``rows`` only, except where that would leave a row empty."""
    if rows is None:
        new = mask & extra
        ok = new.any(axis=1)
        mask[ok] = new[ok]
        return
    if len(rows) == 0:
        return
    new = mask[rows] & (extra if extra.ndim == 1 else extra[rows])
    ok = new.any(axis=1)
    mask[rows[ok]] = new[ok]


def _subset_state(state, keep: np.ndarray):
    """A grammar state holding only the rows in ``keep``."""
    values = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    return type(state)(**{k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in values.items()})


def grammar_for(tokenizer, meter: bool | None = None):
    """The grammar :func:`sample` uses: melody models meter-true unless ``meter`` is False.

    Raises
    ------
    ConfigError
        ``meter=True`` with a vocabulary that has no bar lines (the event vocabulary).
    """
    return tokenizer.sampling_grammar(meter)


def _filter_logits(x, *, temperature: float, top_k: int | None, top_p: float | None,
                   min_p: float | None = None, min_p_exempt=None):
    """Shift each row's best to 0, divide by the temperature, keep top-k / top-p / min-p (torch, (B, V)).

    ``min_p_exempt``: token ids min-p never removes (the sampler passes EOS and the bar-line tokens, so
    a tune ends, and takes its repeat signs and endings, with the model's own probabilities)."""
    import torch

    x = x - x.max(dim=1, keepdim=True).values
    if temperature != 1.0:
        x = x / temperature
    if top_k is not None and top_k < x.shape[1]:
        kth = torch.topk(x, top_k, dim=1).values[:, -1:]
        x = x.masked_fill(x < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_x, order = torch.sort(x, dim=1, descending=True)
        probs = torch.softmax(sorted_x, dim=1)
        drop = (torch.cumsum(probs, dim=1) - probs) >= top_p
        drop[:, 0] = False
        x = x.masked_fill(torch.zeros_like(drop).scatter(1, order, drop), -math.inf)
    if min_p:  # each row's best is at 0, so p / p_best = exp(x): keep x >= log(min_p)
        drop = x < math.log(min_p)
        if min_p_exempt is not None:
            drop[:, min_p_exempt] = False
        x = x.masked_fill(drop, -math.inf)
    return x


def _draw(x, gen):
    """One token per row from softmax(x), by the inverse CDF: one uniform number a row.

    A forbidden token (-inf) has probability exactly 0, so the cumulative sum is flat across it and
    the first index whose sum reaches ``u`` in (0, total] is never forbidden. At batch 256 this
    is ~3x faster than the Gumbel-max trick, which draws a number for every token.
    """
    import torch

    c = torch.softmax(x, dim=1).cumsum_(dim=1)
    u = c[:, -1:] * (1.0 - torch.rand((x.shape[0], 1), generator=gen, device=x.device))
    return torch.searchsorted(c, u).squeeze(1)


def _clean(logits, allowed):
    """Logits as float32 with NaN/inf made finite, then forbidden tokens set to -inf."""
    import torch

    x = logits.float()
    x = torch.nan_to_num(x, nan=-_BIG, posinf=_BIG, neginf=-_BIG)
    return x.masked_fill(~allowed, -math.inf)


def _prefix(tokenizer, keys: Sequence[Key | None], primer_ids) -> np.ndarray:
    """(B, L) starting ids: ``BOS KEY`` or the primer with each sequence's KEY token."""
    b = len(keys)
    key_ids = np.array([tokenizer.key_id(k) for k in keys], np.int64)
    if primer_ids is None:
        return np.stack([np.full(b, tokenizer.bos_id), key_ids], axis=1)
    ids = np.asarray(primer_ids, np.int64).reshape(-1)
    while len(ids) and ids[-1] in (tokenizer.eos_id, tokenizer.pad_id):
        ids = ids[:-1]
    tokenizer.check_primer(ids)
    out = np.repeat(ids[None], b, axis=0)
    given = np.array([k is not None for k in keys])
    out[given, 1] = key_ids[given]
    return out


def _run_prefix(model, prefix: np.ndarray, device, plan: np.ndarray | None = None):
    """Feed the distinct prefix rows through the model; (B, V) logits and the state for each row.

    ``plan``: (B,) planned bar lines per row for a model with form inputs (-1: none), else None."""
    import torch

    keyed = prefix if plan is None else np.concatenate([prefix, plan[:, None]], axis=1)
    rows, inverse = np.unique(keyed, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    if plan is not None:
        rows, row_plan = rows[:, :-1], torch.as_tensor(rows[:, -1], dtype=torch.long, device=device)
    ids = torch.as_tensor(rows, dtype=torch.long, device=device)
    state, logits = None, None
    for start in range(0, ids.shape[1], 4096):  # chunks bound the activations of a long primer
        extra = {"plan": row_plan} if plan is not None and start == 0 else {}
        out, state = model(ids[:, start:start + 4096], state, **extra)
        logits = out[:, -1]
    index = torch.as_tensor(inverse, device=device)
    return logits[index], _take_state(state, index)


def _take_state(state, index):
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def sample(model, tokenizer, *, keys: Sequence[Key | None], length: int, min_length: int | None = None,
           exact: bool = False, meter: bool | None = None, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, no_repeat_ngram: int | None = None,
           key_mask: bool = False, primer_ids=None, seed: int | None = None, batch_size: int = 256,
           device=None, progress: bool = False, n_threads: int | None = None,
           min_p: float | None = None, bars=None, max_run: int | None = None,
           medley: bool = False, known_meter: bool = False, max_loop: int | None = None,
           plan_after_meter: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> list[np.ndarray]:
    """Sample one token sequence per entry of ``keys``, batched.

    Parameters
    ----------
    model : RecurrentLM (or any module with ``forward(ids (B, T), state)`` and ``step``)
        Used in inference mode; put it in eval mode first (``load_model`` does).
    tokenizer : Tokenizer
        The vocabulary the model was trained with.
    keys : list of Key or None
        One per sequence: its KEY token (None: ``KEY_unknown``, or the primer's own KEY token).
    length : int
        Most new notes per sequence (the primer's notes are not counted); a sequence that reaches
        it is closed (cut) there.
    min_length : int, optional
        New notes before the model may end a sequence (default ``min(DEFAULT_MIN_LENGTH, length)``;
        with a bar plan, the default floor also lifts once a piece is in its last planned bar, so a
        short plan is not run past: a tune of 8 bars in 6/8 may have fewer than 32 notes).
    exact : bool
        Exactly ``length`` new notes per sequence (``min_length`` is then ``length``).
    meter : bool, optional
        Melody models: the meter-true grammar (default on; False: the structural grammar only).
    bars : int or sequence of ints (one per entry of ``keys``), optional
        Models with form inputs: the planned number of bar lines of each piece (the primer's
        included), which the model reads as bars so far and bars left; None: no plan.
    plan_after_meter : callable, optional
        Models with form inputs, sequences without a primer (``bars`` left out): each piece's plan is
        drawn once its METER token is: ``plan_after_meter(rows, meter_ids)`` gives the planned bar lines
        of pieces ``rows`` (their places in ``keys``), and the model then reads ``BOS KEY METER`` again
        with them, as if it had had its plan from the start.
    temperature : float > 0
    top_k : int >= 1, optional
    top_p : float in (0, 1], optional
    min_p : float in [0, 1), optional
        Keep only tokens at least ``min_p`` times as likely as the likeliest (after the temperature);
        EOS is always kept where the grammar allows it.
    no_repeat_ngram : int >= 1, optional
        Forbid a note whose pitch would repeat an n-gram of pitches already in the sequence.
    max_run : int >= 1, optional
        At most this many notes of one pitch in a row (the primer's count; rests and ties do not
        break a run); None: no limit.
    max_loop : int >= 2, optional
        Melody vocabulary (other vocabularies have no bars: ignored): a passage of 1-4 bars written
        this many times in a row (bars as their pitches between bar lines, the primer's too) may not go
        on: the first pitch of the bar that would begin its next playing is forbidden until that bar has
        a note (unless nothing else may stand); None: no limit.
    medley : bool
        EOS ends a tune and the next follows in the same sequence (``min_length`` notes a tune at
        least), until exactly ``length`` notes in all: how models trained on medley streams play a set.
    known_meter : bool
        Never draw ``METER_unknown`` for a sequence's header: the model's METER distribution over the
        known time signatures (default False: as the model is, for studies).
    key_mask : bool
        Only pitches of each sequence's key signature may start a note (a push toward the key;
        off by default, so measured key retention is the model's own).
    primer_ids : (L,) int array, optional
        A valid sequence start (``tokenizer.encode(notes)``; a trailing EOS is dropped) that every
        sequence continues; its KEY token is replaced where ``keys`` gives one.
    seed : int, optional
        Seed of the sampler's random generator.
    batch_size : int
        Sequences advanced together; more are sampled in successive batches.
    device : optional
        Where the sampling tensors live (default: the model's device).
    progress : bool
        Show a tqdm bar counting notes, with the rate.
    n_threads : int, optional
        CPU threads for torch during the call (default :func:`threads_for`); restored afterwards.

    Returns
    -------
    list of (T_i,) int32 arrays
        ``BOS KEY METER ... EOS`` (the primer included), each valid under ``tokenizer.grammar()``
        and, after the primer, under :func:`grammar_for` ``(tokenizer, meter)``.
    """
    import torch

    check_sampling_args(length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                        no_repeat_ngram=no_repeat_ngram, batch_size=batch_size, min_length=min_length,
                        min_p=min_p, max_run=max_run, max_loop=max_loop)
    grammar = grammar_for(tokenizer, meter)
    planned = bars is not None or plan_after_meter is not None
    floor_by_plan = min_length is None and not exact and not medley and planned
    if exact and not medley:
        min_length = length
    elif min_length is None:
        min_length = min(DEFAULT_MIN_LENGTH, int(length))
    keys = list(keys)
    if not keys:
        raise ConfigError("keys is empty: give one key (or None) per sequence to sample")
    if key_mask and any(k is None for k in keys):
        raise ConfigError("key_mask needs a key for every sequence; give keys or leave key_mask off")
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    prefix = _prefix(tokenizer, keys, primer_ids)
    plans = None
    if bars is not None:
        try:
            plans = np.broadcast_to(np.asarray(bars, np.int64), (len(keys),))
        except (TypeError, ValueError):
            plans = np.zeros(0, np.int64)
        if plans.shape != (len(keys),) or (plans < 1).any():
            raise ConfigError(f"bars must be whole numbers >= 1 (one, or one per sequence), got {bars!r}")
    if plan_after_meter is not None and (bars is not None or prefix.shape[1] != 2
                                         or not getattr(model, "has_form_inputs", False)):
        raise ConfigError("plan_after_meter draws the plans of a form model's pieces after their sampled "
                          "METER: give it without bars and without a primer")
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed) if seed is not None else int(torch.seed()))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(keys) * int(length), unit="note", desc="sampling")
    out: list[np.ndarray] = []
    threads = torch.get_num_threads()
    small = device.type == "cpu" and min(len(keys), batch_size) <= SMALL_BATCH
    use = threads_for(min(len(keys), batch_size), device) if n_threads is None else int(n_threads)
    if use != threads:
        torch.set_num_threads(max(use, 1))
    onednn = torch.backends.mkldnn.enabled
    if small:  # oneDNN's LSTM re-lays out its weights on every call: 8x slower per step at batch 1
        torch.backends.mkldnn.enabled = False
    try:
        with torch.inference_mode():
            for start in range(0, len(keys), batch_size):
                out += _sample_batch(model, tokenizer, keys[start:start + batch_size],
                                     prefix[start:start + batch_size], grammar, length=int(length),
                                     min_length=int(min_length),
                                     temperature=float(temperature), top_k=top_k,
                                     top_p=None if top_p is None else float(top_p),
                                     min_p=float(min_p or 0.0),
                                     no_repeat_ngram=no_repeat_ngram, key_mask=key_mask,
                                     gen=gen, device=device, bar=bar, max_run=max_run, max_loop=max_loop,
                                     medley=medley,
                                     known_meter=known_meter,
                                     floor_by_plan=floor_by_plan,
                                     bars=None if bars is None else plans[start:start + batch_size],
                                     plan_after_meter=None if plan_after_meter is None else
                                     functools.partial(_rows_from, plan_after_meter, start))
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = onednn
        if bar is not None:
            bar.close()
    return out


def threads_for(batch: int, device) -> int:
    """Intra-op CPU threads :func:`sample` uses: one for small batches (<= ``SMALL_BATCH`` rows).

    A step on a few rows is too small to split across cores, and OpenMP's hand-offs then cost
    far more than they save (on a busy 2-core machine, a 2-thread LSTM step took 140 ms against
    0.5 ms on one thread). Larger batches and GPUs keep torch's setting; it is restored afterwards.
    Small CPU batches also run with oneDNN off: its LSTM re-lays out the weights on every call
    (11 ms against 1.4 ms a step for the shipped size at batch 1; at batch 256 it gains ~5%).
    """
    import torch

    if torch.device(device).type == "cpu" and batch <= SMALL_BATCH:
        return 1
    return torch.get_num_threads()


def _sample_batch(model, tok, keys, prefix: np.ndarray, grammar, *, length: int, min_length: int,
                  temperature: float, top_k, top_p, no_repeat_ngram, key_mask: bool, gen, device,
                  bar, min_p: float = 0.0, bars: np.ndarray | None = None,
                  max_run: int | None = None, max_loop: int | None = None, medley: bool = False,
                  known_meter: bool = False,
                  floor_by_plan: bool = False, plan_after_meter=None) -> list[np.ndarray]:
    import torch

    voc = _Vocab.of(tok)
    b = len(keys)
    gstate = grammar.start(b, prefix)
    plan = None
    if getattr(model, "has_form_inputs", False):
        plan = np.full(b, -1, np.int64) if bars is None else np.array(bars, np.int64)
    logits, state = _run_prefix(model, prefix, device, plan)
    notes = np.zeros(b, np.int64)
    tune_notes = np.zeros(b, np.int64)  # notes of the current tune (medley: counted from its start)
    lines = last_bar = None  # with a plan: bar lines so far (the primer's too), per row
    if plan is not None:
        lines = voc.is_line[prefix].sum(axis=1)
        last_bar = plan - 1 if floor_by_plan else None  # a piece is in its last planned bar from this many bar lines
    stretch = plan is not None and getattr(gstate, "parts", None) is not None
    steps = 0
    budget = MAX_TOKENS_PER_NOTE * length + 64
    active = np.arange(b)  # original row of each live row
    columns: list[np.ndarray] = []  # per step: (b,) sampled ids, -1 for rows already finished
    ends = np.zeros(b, np.int64)  # tokens sampled per row, EOS included
    key_ok = None
    if key_mask:
        pcs = np.array([[p % 12 in k.pitch_classes for p in range(128)] for k in keys])  # (b, 128)
        key_ok = ~voc.starts[None].repeat(b, 0)
        cols = np.flatnonzero(voc.starts)
        key_ok[:, cols] = pcs[:, tok.pitch_of[cols]]
    history = None
    if no_repeat_ngram:
        history = [tok.pitch_of[row[voc.starts[row]]].tolist() for row in prefix]
        seen: list[dict] = [{} for _ in range(b)]
        n1 = no_repeat_ngram - 1
        for i, h in enumerate(history):
            for j in range(len(h) - n1):
                seen[i].setdefault(tuple(h[j:j + n1]), set()).add(h[j + n1])
    runs = _Runs(tok, voc, prefix, max_run) if max_run else None
    loops = _Loops(tok, voc, prefix, max_loop) if max_loop and tok.kind == "melody" else None
    headers = None  # medley: each row's BOS KEY METER (primed or sampled), where its next tune restarts
    while len(active):
        mask = grammar.allowed(gstate)
        if known_meter and steps == 0:  # the header's METER (a primer or an asked meter has one already)
            header = mask[:, tok.meter_base:tok.meter_unknown_id].any(axis=1)
            mask[header, tok.meter_unknown_id] = False
        have = notes[active]
        done_notes = have >= length
        open_rows = np.flatnonzero(~done_notes)
        if medley:  # a tune may end once it has min_length notes; the set, once it has them all
            mask[(tune_notes[active] < min_length) & ~done_notes, tok.eos_id] = False
        else:
            short = have < min_length
            if last_bar is not None:  # a piece in its last planned bar may end (the plan is the length)
                short &= lines[active] < last_bar[active]
            mask[short, tok.eos_id] = False
        closing = np.flatnonzero(done_notes)
        if len(closing):
            tok.close(grammar, gstate, mask, closing)
        if steps >= budget:
            _restrict(mask, ~voc.non_note, open_rows)
        if key_ok is not None:
            _restrict(mask, key_ok[active], open_rows)
        if history is not None:
            _ban_ngrams(mask, voc, active, open_rows, history, seen, no_repeat_ngram)
        if runs is not None:
            runs.ban(mask, active, open_rows)
        if loops is not None:
            loops.ban(mask, active, open_rows)
        allowed = torch.from_numpy(mask).to(device)
        x = _filter_logits(_clean(logits, allowed), temperature=temperature, top_k=top_k, top_p=top_p,
                           min_p=min_p, min_p_exempt=voc.form_ids)
        chosen = _draw(x, gen)
        tokens = chosen.cpu().numpy()
        parts_before = gstate.parts.copy() if stretch else None
        grammar.advance(gstate, tokens)
        column = np.full(b, -1, np.int64)
        column[active] = tokens
        columns.append(column.astype(np.int32))
        steps += 1
        is_note = voc.starts[tokens]
        notes[active[is_note]] += 1
        if lines is not None:
            lines[active] += voc.is_line[tokens]
        if stretch:
            state = _stretch(model, state, plan, lines, active, (gstate.parts > 0) & (parts_before == 0), device)
            if last_bar is not None:
                last_bar = plan - 1
        tune_notes[active[is_note]] += 1
        if bar is not None and is_note.any():
            bar.update(int(is_note.sum()))
        if runs is not None:
            runs.advance(active[is_note], tok.pitch_of[tokens[is_note]])
        if loops is not None:
            loops.advance(active, tokens)
        if history is not None:
            for r in np.flatnonzero(is_note):
                _remember(history, seen, int(active[r]), int(tok.pitch_of[tokens[r]]), no_repeat_ngram)
        finished = tokens == tok.eos_id
        if medley and finished.any():  # a tune ends; the set goes on until its notes are there
            between = np.flatnonzero(finished & (notes[active] < length))
            if len(between):
                if headers is None:  # fixed once METER is there, which comes before any EOS
                    sampled = [c[:, None] for c in columns[:max(3 - prefix.shape[1], 0)]]
                    headers = np.concatenate([prefix, *sampled], axis=1)[:, :3]
                _restart(grammar, gstate, between, headers[active[between]])
                tune_notes[active[between]] = 0
                finished[between] = False
        if plan_after_meter is not None and steps == 1:  # every row has just drawn its METER
            plan = np.asarray(plan_after_meter(tokens), np.int64).copy()
            last_bar = plan - 1 if floor_by_plan else None
            logits, state = _run_prefix(model, np.concatenate([prefix, tokens[:, None]], axis=1), device, plan)
            continue
        if finished.any():
            ends[active[finished]] = steps
            keep = np.flatnonzero(~finished)
            active = active[keep]
            if not len(active):
                break
            gstate = _subset_state(gstate, keep)
            index = torch.as_tensor(keep, device=device)
            state = _take_state(state, index)
            chosen = chosen[index]
        logits, state = model.step(chosen, state)
    body = np.stack(columns, axis=1) if columns else np.zeros((b, 0), np.int32)
    return [np.concatenate([prefix[i], body[i, :ends[i]]]).astype(np.int32) for i in range(b)]


def _rows_from(plan_after_meter, start: int, meter_ids: np.ndarray) -> np.ndarray:
    """``plan_after_meter`` of a batch's rows, counted from ``start`` in the whole run."""
    return plan_after_meter(start + np.arange(len(meter_ids)), meter_ids)


def _stretch(model, state, plan: np.ndarray, lines: np.ndarray, active: np.ndarray, closed: np.ndarray, device):
    """Where a first part has just closed (``closed``, over the live rows) after more than half its row's
    plan, stretch the plan (in place, and in the model's state) to twice the bar lines so far, so the rest
    of the tune reads as many bar lines left as the first part had: the meter grammar holds the end back
    until the last part has :data:`~musicgate.tokens.grammar.LAST_PART` of the first's bars, and a model
    reading no bars left would have to write them past its plan."""
    import torch

    live = np.flatnonzero(closed)
    rows = active[live]
    grow = (plan[rows] >= 0) & (2 * lines[rows] > plan[rows])
    if not grow.any():
        return state
    live, rows = live[grow], rows[grow]
    plan[rows] = 2 * lines[rows]
    return model.replan(state, torch.as_tensor(live, device=device), torch.as_tensor(plan[rows], device=device))


def _restart(grammar, gstate, rows: np.ndarray, headers: np.ndarray) -> None:
    """Put ``rows`` of a grammar state back where a tune starts (after ``headers``, BOS KEY METER)."""
    fresh = grammar.start(len(rows), headers)
    for f in dataclasses.fields(gstate):
        value = getattr(gstate, f.name)
        if isinstance(value, np.ndarray):
            value[rows] = getattr(fresh, f.name)


def medley_notes(tokenizer, ids) -> "Notes":
    """The notes of a sequence sampled with ``medley=True``: its tunes (split at EOS, each read with
    the sequence's ``BOS KEY METER`` header) one after another, each starting where the last ended."""
    from musicgate.music.notes import Notes

    ids = np.asarray(ids, np.int64)
    header, body, eos = ids[:3], ids[3:], tokenizer.eos_id
    tunes = [t[t != eos] for t in np.split(body, np.flatnonzero(body == eos))]
    parts = [tokenizer.decode(np.concatenate([header, t, [eos]])) for t in tunes]  # at least one, maybe empty
    ends = [float((n.onset + n.duration).max()) if len(n) else 0.0 for n in parts]
    starts = np.cumsum([0.0, *ends[:-1]])
    first = parts[0]
    return Notes.from_arrays(np.concatenate([n.pitch for n in parts]).astype(np.int64),
                             np.concatenate([n.onset + t for n, t in zip(parts, starts)]),
                             np.concatenate([n.duration for n in parts]), key=first.key,
                             meter=first.meters[0][1:] if first.meters else None)


class _Runs:
    """Each row's current run of one pitch (its pitch and length), to cap it at ``limit`` notes."""

    def __init__(self, tok, voc: _Vocab, prefix: np.ndarray, limit: int):
        self.limit, self.voc = int(limit), voc
        self.pitch = np.full(len(prefix), -1, np.int64)
        self.length = np.zeros(len(prefix), np.int64)
        for i, row in enumerate(prefix):
            for p in tok.pitch_of[row[voc.starts[row]]]:
                self.advance(np.array([i]), np.array([p]))

    def advance(self, rows: np.ndarray, pitches: np.ndarray) -> None:
        same = self.pitch[rows] == pitches
        self.length[rows] = np.where(same, self.length[rows] + 1, 1)
        self.pitch[rows] = pitches

    def ban(self, mask: np.ndarray, active: np.ndarray, open_rows: np.ndarray) -> None:
        """Forbid the run's pitch on the open rows whose run is at the limit (unless nothing is left)."""
        full = open_rows[self.length[active[open_rows]] >= self.limit]
        if not len(full):
            return
        ids = self.voc.token_of_pitch[self.pitch[active[full]]]
        extra = np.ones((len(mask), mask.shape[1]), bool)
        extra[full[ids >= 0], ids[ids >= 0]] = False
        _restrict(mask, extra, full)


class _Loops:
    """Each row's written bars (the pitches between bar lines: a passage played again with another rhythm
    is the same passage to a listener), to stop a passage of 1-4 bars coming more than ``limit`` times in
    a row: at the start of the bar that would begin its next playing, the passage's first pitch is
    forbidden. The pitch is found once, when a bar closes, and forbidden until the next bar's first note."""

    LONGEST = 4

    def __init__(self, tok, voc: _Vocab, prefix: np.ndarray, limit: int):
        self.limit, self.voc = int(limit), voc
        self.bars: list[list[tuple]] = [[] for _ in range(len(prefix))]
        self.current: list[list[int]] = [[] for _ in range(len(prefix))]
        self.head = np.full(len(prefix), -1, np.int64)   # the pitch token forbidden now, -1 for none
        for i, row in enumerate(prefix):
            self.advance(np.full(max(len(row) - 3, 0), i), row[3:])   # after BOS KEY METER

    def advance(self, rows: np.ndarray, tokens: np.ndarray) -> None:
        tokens = np.asarray(tokens, np.int64)
        seen = self.voc.is_line[tokens] | self.voc.starts[tokens]   # other tokens change nothing
        for r, t in zip(np.asarray(rows)[seen].tolist(), tokens[seen].tolist()):
            if not self.voc.is_line[t]:
                self.current[r].append(t)
                self.head[r] = -1
            elif self.current[r]:
                self.bars[r].append(tuple(self.current[r]))
                self.current[r] = []
                self.head[r] = self._next_head(r)

    def _next_head(self, row: int) -> int:
        """The note that would begin the next playing of a passage written ``limit`` times in a row, or -1."""
        bars, k = self.bars[row], self.limit
        for n in range(1, self.LONGEST + 1):
            if len(bars) >= k * n and all(bars[-i] == bars[-i - n] for i in range(1, n * (k - 1) + 1)):
                return bars[-n][0]   # a bar is kept only once it has a note
        return -1

    def ban(self, mask: np.ndarray, active: np.ndarray, open_rows: np.ndarray) -> None:
        heads = self.head[active[open_rows]]
        rows = open_rows[heads >= 0]
        if len(rows):
            extra = np.ones((len(mask), mask.shape[1]), bool)
            extra[rows, heads[heads >= 0]] = False
            _restrict(mask, extra, rows)


def _ban_ngrams(mask, voc: _Vocab, active, open_rows, history, seen, n: int) -> None:
    """Forbid note-start tokens that would complete a pitch n-gram already in the sequence."""
    n1 = n - 1
    for r in open_rows:
        row = int(active[r])
        h = history[row]
        if len(h) < n1:
            continue
        banned = seen[row].get(tuple(h[len(h) - n1:]))
        if not banned:
            continue
        extra = np.ones(mask.shape[1], bool)
        ids = voc.token_of_pitch[list(banned)]
        extra[ids[ids >= 0]] = False
        _restrict(mask, extra, np.array([r]))


def _remember(history, seen, row: int, pitch: int, n: int) -> None:
    h = history[row]
    h.append(pitch)
    if len(h) >= n:
        seen[row].setdefault(tuple(h[len(h) - n:len(h) - 1]), set()).add(pitch)
