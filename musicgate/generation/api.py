"""Generation, the Python face of ``musicgate generate``: shipped models, keys, primers, files.

>>> notes = generate("folk-lstm", key="D major", length=64, num=2, seed=1)   # doctest: +SKIP
>>> write_outputs(notes, "generated", model_name="folk-lstm", key="D major", seed=1)  # doctest: +SKIP

Models are named as :mod:`musicgate.nn.hub` says: a shipped model (``folk-rnn``, ``folk-lstm``,
``folk-gru``), a checkpoint file or a run folder.

The key of a run: the one asked for; else the primer's estimated key; else one of the 24 major
and minor keys drawn with the seed. A primer asked to continue in another key is transposed so
its key signature becomes the target's (by at most 6 semitones, an octave more if its pitches
would leave the vocabulary). Every input is checked before anything is written, and the files
of a run appear together or not at all.

This module imports torch only when a model is used, so ``import musicgate`` stays light.
"""
from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from musicgate.errors import ConfigError, MidiError
from musicgate.music.keys import MAJOR_MINOR_KEYS, Key, parse_key
from musicgate.music.meters import dance_name, dance_plan, meter_name, parse_meter
from musicgate.music.notes import Notes
from musicgate.generation.plans import (DEFAULT_BARS, MIN_DRAWN_BARS, MIN_METER_TUNES, PLAN_STREAM,  # noqa: F401
                                        MeterPlans, checked_by_meter, checked_counts, draw_plans, meter_tables)
from musicgate.generation.sample import DEFAULT_MIN_LENGTH, check_sampling_args
from musicgate.files import safe_name
from musicgate.tokens.grammar import LAST_PART
from musicgate.nn.hub import load_model

DEFAULT_MODEL = "folk-lstm"  # the shipped model whose tunes mark time on one pitch least (the GRU keeps the
# asked tonic a little more often; 288 tunes each: README, "Shipped models" and "How they sound")
DEFAULT_LENGTH = 256
"""Most new notes per generated piece when no length is given (the model usually ends it sooner)."""
#: the default sampling: the model's own distribution (temperature 1) with min-p 0.05 (tokens less than a
#: twentieth as likely as the likeliest are left out), measured against min-p 0.2, 0.1 and none and
#: temperature 0.8 on the shipped models (docs/shipped-models.md, "Phase by phase, measured": at 0.2
#: the tunes stuck on one pitch for 6-11 notes and kept to 11 semitones); studies of the model as it
#: is use 1.0 alone
DEFAULT_TEMPERATURE = 1.0
DEFAULT_MIN_P = 0.05
DEFAULT_MAX_RUN = 6
"""Most notes of one pitch in a row in a generated piece (``max_run``): real folk tunes go past it in 5 of
200 (their longest runs: 1-6 notes in 195, 7-8 in 4, 15 in one); the shipped models with the copy head
sampled 7-10 of 96 tunes with 8 or more, up to 29 (docs/shipped-models.md, "The copy head";
``benchmarks/results/tonic-copy/max-run-off``)."""
DEFAULT_MAX_LOOP = 4
"""Most times a passage of 1-4 written bars comes in a row in a generated piece (``max_loop``): real folk tunes
write one more often in 2 of 1,147 (11 more than 3 times); the shipped models, left alone, looped a passage up
to 24 times (README, "Generating"; ``benchmarks/results/musicality-288-maxloop0``)."""
RARE_MODE = 0.01
"""A mode with fewer than this share of a model's training tunes is rare for it: generation says so
(the folk corpus has 40 dorian and 52 mixolydian tunes among 11,472, and the shipped models asked in
those modes often play a major or minor key instead, on the same tonic or with the same signature; README,
"How they sound")."""

def key_slug(key: "Key | str") -> str:
    """The key as it appears in file names: ``D-major``, ``Fsharp-minor``, ``Bb-major``, ``A-dorian``."""
    return parse_key(key).name.replace("#", "sharp").replace(" ", "-")


@dataclass
class Generation:
    """What one call of :func:`generate_run` made.

    Attributes
    ----------
    notes : list of Notes, one per piece (the primer's notes first, when there was one).
    ids : list of (T,) int32 token arrays.
    key : the key of the run. seed : the sampler's seed. model_name : for file names.
    settings : JSON-ready record of every setting (written beside the files), with per piece
        ``new_notes``, ``ended_by_model`` (the model chose to end it) and ``cut`` (it reached the
        maximum and was closed there), ``meters`` (each piece's time signature as its METER token
        names it, None for ``METER_unknown``) and ``meter_source``; ``notes``: lines for the user (a key
        asked in a mode the model rarely saw, :func:`rare_mode_note`; a meter it rarely starts a tune in,
        :func:`rare_meter_note`).
    """

    notes: list[Notes]
    ids: list[np.ndarray]
    key: Key
    seed: int
    model_name: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def cut(self) -> list[bool]:
        """Per piece: closed at the maximum length instead of ended by the model."""
        return list(self.settings.get("cut", [False] * len(self.notes)))


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("musicgate")
    except PackageNotFoundError:
        return None


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _load_primer(primer) -> tuple[Notes, str]:
    if isinstance(primer, Notes):
        notes, name = primer, "<Notes>"
    else:
        from musicgate.music.load import load_notes

        name = os.fspath(primer)
        if Path(name).is_file() and Path(name).stat().st_size == 0:
            raise MidiError(f"{name}: the primer file is empty; give a MIDI file with a melody in it")
        notes = load_notes(name)
    if len(notes.without_drums()) == 0:
        raise MidiError(f"{name}: the primer has no notes (drums aside); give a MIDI file with a melody in it")
    return notes, name


def _signature_shift(source: Key, target: Key) -> int:
    """Semitones (-6..5) that move ``source``'s key signature onto ``target``'s."""
    return ((target.signature - source.signature) * 7 + 6) % 12 - 6


def _prepare_primer(notes: Notes, name: str, tokenizer, key: Key | None) -> tuple[np.ndarray, Key, dict]:
    """Primer ids in the run's key, the key, and what was done (for the settings record)."""
    from musicgate.errors import TokenizerError
    from musicgate.analysis.keyfind import estimate_key

    q = tokenizer.quantize(notes)
    if len(q) == 0:
        raise MidiError(f"{name}: the primer has no notes this vocabulary keeps; give a MIDI file with a melody")
    estimate = estimate_key(q.pitch, q.duration).key
    info = {"primer": name, "primer_notes": len(q), "primer_estimated_key": estimate.name, "primer_transpose": 0}
    if key is None:
        key, shift = estimate, 0
    else:
        base = _signature_shift(estimate, key)
        lo, hi = tokenizer.pitch_range
        fits = [s for s in sorted((base, base - 12, base + 12), key=abs)
                if lo <= int(q.pitch.min()) + s and int(q.pitch.max()) + s <= hi]
        if not fits:
            raise TokenizerError(f"{name}: the primer cannot move to {key.name} within the model's pitch range "
                                 f"{lo}-{hi}; give a primer with a narrower range")
        shift = fits[0]
        info["primer_transpose"] = shift
    moved = Notes(q.pitch + shift, q.onset, q.duration, q.velocity, q.program, q.track, q.tempos,
                  ((0.0, key),), q.meters)
    ids = tokenizer.encode(moved)
    return ids[:-1], key, info


def _length_plan(length: int | None, min_length: int | None, exact_length: int | None) -> tuple[int, int | None]:
    """(maximum new notes, minimum) before the primer is known; checks the combination."""
    if exact_length is not None:
        if length is not None or min_length is not None:
            raise ConfigError("exact-length fixes the number of notes; leave out length and min-length")
        if isinstance(exact_length, bool) or not isinstance(exact_length, (int, np.integer)) or exact_length < 1:
            raise ConfigError(f"exact-length must be a positive number of notes, got {exact_length!r}")
        return int(exact_length), int(exact_length)
    length = DEFAULT_LENGTH if length is None else length
    check_sampling_args(length=length, min_length=min_length)
    return int(length), None if min_length is None else int(min_length)


def generate_run(model, *, key: "str | Key | None" = None, length: int | None = None, num: int = 1,
                 min_length: int | None = None, exact_length: int | None = None, meter: bool = True,
                 temperature: float = DEFAULT_TEMPERATURE, top_k: int | None = None, top_p: float | None = None,
                 primer: "str | os.PathLike | Notes | None" = None, seed: int | None = None,
                 key_mask: bool = False, no_repeat_ngram: int | None = None, device: str = "cpu",
                 batch_size: int = 256, progress: bool = False,
                 min_p: float | None = DEFAULT_MIN_P, bars: int | None = None,
                 max_run: int | None = DEFAULT_MAX_RUN,
                 time_signature: "str | tuple[int, int] | None" = None, keep_octave: bool = False,
                 max_loop: int | None = DEFAULT_MAX_LOOP) -> Generation:
    """Like :func:`generate`, but also returns the resolved key, seed and settings."""
    most, least = _length_plan(length, min_length, exact_length)
    asked_meter = None if time_signature is None else parse_meter(time_signature)
    check_sampling_args(length=most, temperature=temperature, top_k=top_k, top_p=top_p,
                        no_repeat_ngram=no_repeat_ngram, batch_size=batch_size, min_p=min_p, max_run=max_run,
                        max_loop=max_loop)
    num = _check_int("num", num, 1)
    target = None if key is None else parse_key(key)
    seed = secrets.randbelow(2**31) if seed is None else _check_int("seed", seed, 0)
    primer_notes = _load_primer(primer) if primer is not None else None
    if isinstance(model, tuple):
        if len(model) != 3:
            raise ConfigError("model must be a name, a checkpoint path or the (model, tokenizer, meta) "
                              "triple that load_model returns")
        net, tokenizer, meta = model
        name = safe_name(meta.get("name") or getattr(net, "cell", "model"))
    else:
        net, tokenizer, meta = load_model(model, device=device)
        name = meta["name"]
    info: dict[str, Any] = {"primer": None}
    primer_ids = None
    if primer_notes is not None:
        primer_ids, run_key, info = _prepare_primer(*primer_notes, tokenizer, target)
        source = "given" if target is not None else "estimated from the primer"
    elif target is not None:
        run_key, source = target, "given"
    else:
        run_key = MAJOR_MINOR_KEYS[int(np.random.default_rng(seed).integers(len(MAJOR_MINOR_KEYS)))]
        source = "drawn with the seed"
    if asked_meter is not None:
        primer_ids = _header_with_meter(tokenizer, run_key, asked_meter, primer_ids)
    from musicgate.generation.sample import sample

    starts = tokenizer.note_starts()
    primed = 0 if primer_ids is None else int(starts[primer_ids].sum())
    exact = exact_length is not None
    if exact:
        if primed >= most:
            raise ConfigError(f"the primer has {primed} notes, and exact-length {most} counts the whole piece, "
                              f"primer included; give an exact-length above {primed}")
        most = least = most - primed
    use_meter = bool(meter) and tokenizer.has_meter
    dance = dance_name(time_signature)
    counts, drawn_from = dance_plan(dance), f"the folk corpus's {dance}s"  # a dance by name: its lengths and forms
    dataset = meta.get("dataset") or {}
    if not counts:
        counts, drawn_from = dataset.get("bar_lines"), "the training tunes"
        counts = checked_counts(counts, "dataset.bar_lines") if counts else None
    by_meter = (checked_by_meter(dataset["bar_lines_by_meter"])
                if use_meter and not dance_plan(dance) and dataset.get("bar_lines_by_meter") else None)
    plan, plan_source, plan_after_meter = _bar_plan(net, bars, exact, primer_ids, tokenizer, num=num, seed=seed,
                                                    counts=counts, drawn_from=drawn_from, by_meter=by_meter)
    ids = sample(net, tokenizer, keys=[run_key] * num, length=most, min_length=least,
                 exact=exact, meter=use_meter, temperature=temperature, top_k=top_k,
                 top_p=top_p, no_repeat_ngram=no_repeat_ngram, key_mask=key_mask, primer_ids=primer_ids,
                 seed=seed, batch_size=batch_size, progress=progress, min_p=min_p, bars=plan, max_run=max_run,
                 max_loop=max_loop, plan_after_meter=plan_after_meter,
                 known_meter=use_meter and not exact)
    if plan_after_meter is not None:
        plan = plan_after_meter.drawn
    notes = [tokenizer.decode(x) for x in ids]
    if use_meter:  # the grammar kept an unknown meter's bars as 4/4: say so in the files
        notes = [n if n.meters else replace(n, meters=((0.0, 4, 4),)) for n in notes]
    register = (meta.get("dataset") or {}).get("register") if tokenizer.kind == "melody" else None
    shifts: list[int] | None = None
    if not keep_octave and primer_notes is None and register:
        shifts = [octave_shift(n, float(register["median"]), tokenizer.pitch_range) for n in notes]
        notes = [n.transpose(s) if s else n for n, s in zip(notes, shifts)]
    new = [int(starts[x].sum()) - primed for x in ids]
    style = use_meter and bool(getattr(tokenizer, "form", False))
    cut = [not exact and n >= most for n in new]
    floor = least if least is not None else min(DEFAULT_MIN_LENGTH, most)
    settings = {
        "musicgate_version": _version(), "model": name, "checkpoint": meta.get("path"),
        "cell": getattr(net, "cell", None), "vocab": tokenizer.kind, "key": run_key.name, "key_source": source,
        "seed": seed, "length": most, "num": num,
        # min_length / max_length count new notes (after the primer); exact_length the whole piece
        "length_mode": "exact" if exact else "model ends", "min_length": floor, "max_length": most,
        # the default floor lifts once a piece is in its last planned bar (a short plan is not run past)
        "may_end_in_last_planned_bar": least is None and not exact and plan is not None,
        "exact_length": int(exact_length) if exact else None,
        "new_notes": new, "ended_by_model": [not exact and not c for c in cut], "cut": cut,
        # a tune a musician asked for is in a known meter; exact-length studies take the model's METER as it is
        "meter_grammar": use_meter, "known_meter": use_meter and not exact,
        "meter_unknown_as": "4/4" if use_meter else None,
        # each piece moved by whole octaves so its median pitch is nearest the training tunes' (None: left as written)
        "register": float(register["median"]) if register else None, "octave_shift": shifts,
        "keep_octave": bool(keep_octave),
        "time_signature": meter_name(asked_meter), "dance": dance,
        "meter_source": "given" if asked_meter else ("the primer's" if primer_notes is not None else "the model's"),
        "meters": [meter_name(tokenizer.meter_of(x)) for x in ids],
        "planned_bars": None if plan is None else [int(b) for b in plan], "plan_source": plan_source,
        # the bar-line tokens each piece has (repeat signs and endings included, the primer's too), as a plan counts them
        "bar_lines_written": ([int(np.isin(x, tokenizer.barline_ids).sum()) for x in ids]
                              if getattr(tokenizer, "barline_ids", None) is not None else None),
        # the meter grammar's rules of style (form vocabulary): the end held until the last part has LAST_PART
        # of the first's bars, no :| closing a repeat of one or two bars, no end right after a |:; a tune
        # cut at max_length ends without them. A plan is stretched where the first part closes past half of it
        "rules_of_style": style, "last_part_at_least": LAST_PART if style else None,
        "plan_stretched_past_a_long_first_part": style and plan is not None,
        "temperature": float(temperature),
        "top_k": None if top_k is None else int(top_k), "top_p": None if top_p is None else float(top_p),
        "min_p": float(min_p) if min_p else None,
        "no_repeat_ngram": None if no_repeat_ngram is None else int(no_repeat_ngram),
        "max_run": int(max_run) if max_run else None,
        "max_loop": int(max_loop) if max_loop and tokenizer.kind == "melody" else None,   # bars to count
        "key_mask": bool(key_mask),
        "key_pushing_flags": ["key_mask"] if key_mask else [],
        "notes": [n for n in [rare_mode_note(run_key.mode, (meta.get("dataset") or {}).get("modes"), name),
                              rare_meter_note(net, tokenizer, run_key, asked_meter, name, device)
                              if asked_meter and primer_notes is None else None] if n],
        **info,
    }
    return Generation(notes=notes, ids=ids, key=run_key, seed=seed, model_name=name, settings=settings)


def octave_shift(notes: Notes, register: float, pitch_range: tuple[int, int] = (0, 127)) -> int:
    """Semitones (a multiple of 12) that bring the median pitch of ``notes`` nearest ``register`` while
    every pitch stays inside ``pitch_range``; 0 for no notes.

    The shipped models read and write pitches relative to the tonic (:mod:`musicgate.nn.tonic`), so they do
    not know a tune's absolute register: as written, 40-44% of their tunes lay outside the 5-95% band of
    the folk tunes' registers (G major an octave low, D major an octave high; README, "The register").
    Moving a whole tune by octaves keeps its pitch classes, intervals, key and form.
    """
    if len(notes) == 0:
        return 0
    lo, hi = int(notes.pitch.min()), int(notes.pitch.max())
    steps = sorted(range(-4, 5), key=lambda k: (abs(float(np.median(notes.pitch)) + 12 * k - register), abs(k)))
    return next((12 * k for k in steps if pitch_range[0] <= lo + 12 * k and hi + 12 * k <= pitch_range[1]), 0)


def _header_with_meter(tokenizer, key: Key, meter: tuple[int, int], primer_ids) -> np.ndarray:
    """The sequence start that fixes the METER token: ``BOS KEY METER`` (no primer), or the primer's ids
    when its meter is the asked one (a primer keeps its bars, so another meter is a ConfigError)."""
    from musicgate.tokens.tokenizer import METERS

    wanted = tokenizer.meter_id(meter)
    if wanted == tokenizer.meter_unknown_id:
        raise ConfigError(f"time signature {meter_name(meter)} is not in this model's vocabulary; give one of "
                          f"{', '.join(METERS)}")
    if primer_ids is None:
        return np.array([tokenizer.bos_id, tokenizer.key_id(key), wanted], np.int64)
    if int(primer_ids[2]) != wanted:
        have = tokenizer.meter_of(primer_ids[:3])
        raise ConfigError(f"the primer is in {meter_name(have) or 'no known time signature'} and keeps its bars; "
                          f"leave out the time signature or give a primer in {meter_name(meter)}")
    return primer_ids


RARE_METER = 0.01
"""A time signature the model gives less than this probability at a tune's start, in the asked key, is
rare for it: generation says so (the shipped models give 12/8, 5/4, 7/8 almost none)."""


def meter_share(net, tokenizer, key: Key, meter: tuple[int, int], device: str = "cpu") -> float:
    """The share of its tunes in ``key`` that the model starts in ``meter``: its probability of that METER
    token after ``BOS KEY`` (no bar plan), among the METER tokens (the only ones the grammar allows there)."""
    import torch

    from musicgate.generation.sample import _run_prefix

    prefix = np.array([[tokenizer.bos_id, tokenizer.key_id(key)]], np.int64)
    plan = np.full(1, -1, np.int64) if getattr(net, "has_form_inputs", False) else None
    with torch.inference_mode():
        logits, _ = _run_prefix(net, prefix, torch.device(device), plan)
        meters = torch.arange(tokenizer.meter_base, tokenizer.meter_unknown_id + 1, device=logits.device)
        share = torch.softmax(logits[0].float()[meters], -1)
        return float(share[tokenizer.meter_id(meter) - tokenizer.meter_base])


def rare_meter_note(net, tokenizer, key: Key, meter: tuple[int, int], model_name: str,
                    device: str = "cpu") -> str | None:
    """A line for the user when the model starts under :data:`RARE_METER` of its tunes in ``key`` in
    ``meter`` (:func:`meter_share`), else None. The live page shows the same line (``meterNote``)."""
    p = meter_share(net, tokenizer, key, meter, device)
    if p >= RARE_METER:
        return None
    return (f"{model_name} starts {p:.1%} of its tunes in {key.name} in {meter_name(meter)}: it saw few tunes in "
            f"this meter, so its bars will be full but its rhythms may not sound like {meter_name(meter)}")


def rare_mode_note(mode: str, modes: dict | None, model_name: str) -> str | None:
    """A line for the user when ``mode`` is under :data:`RARE_MODE` of the training tunes whose mode
    counts ``modes`` a checkpoint records (None when it is common, or the counts are unknown). The
    live page shows the same lines (``modeNotes`` in its model files)."""
    if not modes:
        return None
    total = sum(int(v) for v in modes.values())
    seen = int(modes.get(mode, 0))
    if total <= 0 or seen >= RARE_MODE * total:
        return None
    return (f"{model_name} saw {seen:,} {mode} tunes among {total:,} in training: it knows the {mode} keys less "
            f"well than the major and minor ones and may play a major or minor key instead (on its tonic or with "
            f"its signature)")


def _bar_plan(net, bars, exact: bool, primer_ids, tokenizer, *, num: int, seed: int,
              counts: dict | None = None, drawn_from: str = "the training tunes",
              by_meter: dict | None = None):
    """(planned bar lines per piece or None, where they came from, a ``plan_after_meter`` or None) of a run.

    ``bars`` when given ("--bars"); else, for a model whose checkpoint records its training tunes'
    bar-line counts (``counts``: count -> tunes), one count (at least :data:`MIN_DRAWN_BARS`) per
    piece drawn from them with the seed ("drawn from ``drawn_from``"), so a set of tunes has the
    corpus's mix of lengths and forms; where the checkpoint also has them per time signature
    (``by_meter``; None for a dance's plans), from the tunes in the piece's meter
    (:data:`MIN_METER_TUNES`). Else :data:`DEFAULT_BARS` ("default"). A piece without a primer (nor an
    asked meter, which comes as one) draws its METER first, reading no plan, and then its plan (the
    returned :class:`~musicgate.generation.plans.MeterPlans`, the plans None until then): so a plan drawn and the same plan given
    make the same tune. (None, None, None) for models without form inputs and for exact-length runs (a
    study of the model without a plan).
    """
    if not getattr(net, "has_form_inputs", False):
        if bars is not None:
            raise ConfigError("this model has no form inputs, so it cannot plan a number of bars; leave bars out")
        return None, None, None
    if exact:
        if bars is not None:
            raise ConfigError("exact_length fixes the notes and runs without a bar plan; give bars (--bars) or exact_length "
                              "(--exact-length), not both")
        return None, None, None
    have = 0 if primer_ids is None else int(np.isin(primer_ids, tokenizer.barline_ids).sum())
    u = np.random.default_rng([int(seed), PLAN_STREAM]).random(num)
    if bars is not None:
        plan = _check_int("bars", bars, 1)
        if have >= plan:
            raise ConfigError(f"the primer already has {have} bar lines and bars counts the whole piece; "
                              f"give bars above {have}")
        plan, source = np.full(num, plan, np.int64), "--bars"
    elif by_meter and primer_ids is None:
        return None, f"drawn from {drawn_from} in each piece's meter", \
            MeterPlans(tokenizer, u, by_meter=by_meter, counts=counts)
    else:
        if by_meter:   # a primer, or an asked meter: its meter's tunes
            meter = tokenizer.meter_of(primer_ids)
            table = meter_tables(tokenizer, by_meter).get(meter_name(meter)) if meter is not None else None
            if table:
                counts, drawn_from = table, f"{drawn_from} in {meter_name(meter)}"
        plan = draw_plans(counts, u, have) if counts else None
        plan, source = ((plan, f"drawn from {drawn_from}") if plan is not None
                        else (np.full(num, max(DEFAULT_BARS, have + 1), np.int64), "default"))
    if primer_ids is None:
        return None, source, MeterPlans(tokenizer, u, fixed=plan)
    return plan, source, None


def generate(model, *, key: "str | Key | None" = None, length: int | None = None, num: int = 1,
             min_length: int | None = None, exact_length: int | None = None, meter: bool = True,
             temperature: float = DEFAULT_TEMPERATURE, top_k: int | None = None, top_p: float | None = None,
             primer: "str | os.PathLike | Notes | None" = None, seed: int | None = None,
             key_mask: bool = False, no_repeat_ngram: int | None = None, device: str = "cpu",
             min_p: float | None = DEFAULT_MIN_P, bars: int | None = None,
             max_run: int | None = DEFAULT_MAX_RUN,
             batch_size: int = 256, progress: bool = False,
             time_signature: "str | tuple[int, int] | None" = None, keep_octave: bool = False,
             max_loop: int | None = DEFAULT_MAX_LOOP) -> list[Notes]:
    """Generate ``num`` pieces in ``key`` that end where the model ends them; the API of ``musicgate generate``.

    Parameters
    ----------
    model : str, path, or the (model, tokenizer, meta) triple of :func:`load_model`
        A shipped model name (``folk-rnn``, ``folk-lstm``, ``folk-gru``) or a checkpoint.
    key : str or Key, optional
        ``"D major"``, ``"Dm"``, ``"F# minor"``, ``"Bb"``, ``"Ador"`` ... Default: the primer's
        estimated key, or one of the 24 major/minor keys drawn with the seed.
    length : int >= 1, optional
        Most new notes per piece (default :data:`DEFAULT_LENGTH`); a piece that reaches it is cut
        there (``Generation.cut``).
    num : int >= 1
    min_length : int >= 1, optional
        New notes before the model may end a piece (default ``DEFAULT_MIN_LENGTH``, 32, at most ``length``;
        with a bar plan the default also lets a piece end once it is in its last planned bar).
    exact_length : int >= 1, optional
        Exactly this many notes per piece, the primer's included, for studies (instead of
        ``length`` and ``min_length``).
    meter : bool
        Melody models: bar lines only at full bars and no note across a bar line (default True;
        it masks by position and duration only, never by pitch); a piece the model ends then starts in
        a known time signature (never ``METER_unknown``: the folk corpus's 358 such tunes are Essen
        songs and ballads in free or changing meter, notes 2.8 times as long on average, and the models
        sampled them as lines of notes held across bars; exact-length studies keep the model's draw as it is).
    temperature, top_k, top_p, min_p, no_repeat_ngram, max_run, max_loop, key_mask :
        Sampling settings (see :func:`musicgate.generation.sample.sample`; defaults temperature 1,
        min-p 0.05 and at most :data:`DEFAULT_MAX_RUN` notes of one pitch in a row; ``min_p=None``
        samples the whole distribution, ``max_run=None`` lets a pitch repeat without limit;
        ``max_loop`` (default :data:`DEFAULT_MAX_LOOP`) lets a passage of 1-4 bars come at most that many
        times in a row, ``max_loop=None`` without limit);
        ``key_mask`` pushes notes into the key signature and is off by default.
    primer : path or Notes, optional
        Music to continue (MIDI, or anything music21 reads); included at the start of each piece.
    seed : int, optional
        Makes the run reproducible (drawn at random when not given).
    bars : int >= 1, optional
        Models with form inputs: the planned bar lines of each piece, the primer's included; the
        model knows how many bars are left and shapes the end. Default: drawn for each piece from the
        bar-line counts of the model's training tunes in the piece's time signature (recorded in the
        shipped checkpoints; :data:`MIN_METER_TUNES`), so the pieces have the corpus's mix of lengths
        and forms, meter by meter; :data:`DEFAULT_BARS` for a checkpoint without them.
    time_signature : str or (int, int), optional
        The meter of every piece: ``"6/8"``, ``(3, 4)``, ``"C|"`` or a dance (``"jig"``, ``"reel"``,
        ``"slip jig"``: :data:`musicgate.music.meters.DANCES`, each in the meter the corpus writes it in); it
        fixes the METER token the model would otherwise draw per piece. A dance asked for by name also has
        each piece's bar plan (unless ``bars`` is given) drawn from that dance's tunes in the folk corpus
        (:data:`musicgate.music.meters.DANCE_PLANS`). A primer keeps its own meter (another one is a ConfigError); a meter the
        model rarely starts a tune with gets a line in ``settings["notes"]``.
    keep_octave : bool
        Leave each piece in the octave the model wrote it in. Default False: a melody model whose
        checkpoint records its training tunes' register (the shipped ones do) has each piece moved by
        whole octaves so its median pitch is nearest that register (:func:`octave_shift`; a primer run is
        left as it is). ``settings["octave_shift"]`` records each piece's move.

    Returns
    -------
    list of Notes
        Each with the run's key as its key signature and its time signature (4/4 where the model
        drew ``METER_unknown``: the meter grammar keeps such a piece in 4/4 bars).

    Raises
    ------
    ConfigError, KeyNameError, MidiError, CheckpointError, TokenizerError
        Bad settings, key name, time signature, primer or model, before any sampling.
    """
    return generate_run(model, key=key, length=length, num=num, min_length=min_length,
                        exact_length=exact_length, meter=meter, temperature=temperature, top_k=top_k,
                        top_p=top_p, primer=primer, seed=seed, key_mask=key_mask,
                        no_repeat_ngram=no_repeat_ngram, device=device, batch_size=batch_size,
                        progress=progress, min_p=min_p, bars=bars, max_run=max_run,
                        time_signature=time_signature, keep_octave=keep_octave, max_loop=max_loop).notes


def output_stem(model_name: str, key: "Key | str", seed: int, index: int) -> str:
    """File name without suffix: ``{model}_{key}_{seed}_{index}``."""
    return f"{safe_name(model_name)}_{key_slug(key)}_{int(seed)}_{int(index)}"


def check_audio() -> None:
    """Raise AudioError unless WAV files can be rendered (a soundfont and a synthesizer are installed)."""
    from musicgate.music.audio import check_soundfont, resolve_backend

    check_soundfont(None)
    resolve_backend("auto")


def write_outputs(notes_list: list[Notes], outdir: "str | os.PathLike", *, model_name: str, key: "Key | str",
                  seed: int, wav: bool = False, musicxml: bool = False, abc: bool = False,
                  settings: dict | None = None) -> list[Path]:
    """Write each piece as ``{model}_{key}_{seed}_{i}.mid`` (i from 0), plus WAV / MusicXML / ABC, and a
    ``{model}_{key}_{seed}.json`` sidecar recording the settings.

    The files are made in a hidden staging folder inside ``outdir`` and moved into place only when
    all of them were written, so a failure leaves nothing behind.

    Returns
    -------
    list of Path
        The written files: per piece the MIDI (then WAV, MusicXML), and last the JSON sidecar (the
        settings, with ``files`` and ``note_counts``: each piece's notes).
    """
    from musicgate.files import atomic_write_json
    from musicgate.music.midi import write_midi

    if not notes_list:
        raise ConfigError("nothing to write: the list of generated pieces is empty")
    key = parse_key(key)
    seed = _check_int("seed", seed, 0)
    if wav:
        check_audio()
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{outdir}: exists and is not a folder; give another -o folder")
    created = [p for p in (outdir, *outdir.parents) if not p.exists()]
    outdir.mkdir(parents=True, exist_ok=True)
    from musicgate.files import staging_dir

    staging = staging_dir(outdir, "generate")  # also removes the ones a killed run left behind
    names: list[str] = []
    moved: list[str] = []
    try:
        for i, notes in enumerate(notes_list):
            stem = output_stem(model_name, key, seed, i)
            write_midi(notes, staging / f"{stem}.mid")
            names.append(f"{stem}.mid")
            if wav:
                from musicgate.music.audio import render_file

                render_file(staging / f"{stem}.mid", staging / f"{stem}.wav")
                names.append(f"{stem}.wav")
            if musicxml:
                from musicgate.music.score import write_musicxml

                write_musicxml(notes, staging / f"{stem}.musicxml")
                names.append(f"{stem}.musicxml")
            if abc:
                from musicgate.music.abcwrite import write_abc

                write_abc(notes, staging / f"{stem}.abc", titles=[f"{model_name} in {key.name}, seed {seed}, no. {i + 1}"],
                          comment=f"musicgate {_version() or ''}".strip(), name=str(outdir / f"{stem}.abc"),
                          rhythm=(settings or {}).get("dance") or "")
                names.append(f"{stem}.abc")
        sidecar = f"{safe_name(model_name)}_{key_slug(key)}_{seed}.json"
        record = {**(settings or {}), "model": (settings or {}).get("model", model_name), "key": key.name,
                  "seed": seed, "files": list(names),
                  "note_counts": [int(len(n)) for n in notes_list]}   # "notes": the lines generate printed
        record.setdefault("key_mask", None)
        record.setdefault("key_pushing_flags", None)
        atomic_write_json(staging / sidecar, record)
        names.append(sidecar)
        for name in names:
            os.replace(staging / name, outdir / name)
            moved.append(name)
    except BaseException:
        for name in moved:  # all or nothing: take back the files already moved into place
            (outdir / name).unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [outdir / name for name in names]
