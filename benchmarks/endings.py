"""Does a model know where a tune ends? Teacher-forced on held-out real tunes of the folk corpus.

    python benchmarks/endings.py [--model NAME ...] [--tunes 300] [-o benchmarks/results/endings.md]

For each tune, the model's probability of ``EOS`` at the tune's real end, and at every earlier bar
line (just before and just after each bar-line token: where the sampler's meter grammar lets a
tune end). Reported: the first, and the chance that sampling would have ended the tune at one of
the earlier bar lines (1 - prod(1 - p)), for all tunes and split by whether the tune has repeat or
ending marks (their number in parentheses). A model that knows a tune's length puts most of its
``EOS`` mass at the real end and little before. A model with form inputs is measured twice: with no
plan, and with the tune's own number of bar lines as its plan (what ``generate --bars`` gives it). Raw softmax probabilities at temperature 1 (the
grammar is not applied: real tunes whose bars do not fill the meter would put it out of step).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dur_tokens, emit_table, teacher_forced_setup  # noqa: E402


PLACES = ("last note", "first note of the last bar", "first note")
"""Where the tonic's share of the pitch probability is read (the second table)."""


def end_probabilities(model, tok, ids: np.ndarray, lines: np.ndarray, plan: str | None = None):
    """p(EOS | prefix) at every bar line of ``ids`` (before and after each bar-line token), in order,
    then at the real end (the last entry); and, at each of :data:`PLACES`, the share of the pitch
    probability on the tonic of the tune's KEY token with whether the real note is the tonic (None
    where the tune has no key or no such note). ``plan="tune"``: a model with form inputs is told
    the tune's number of bar lines."""
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(ids[None, :-1]), **({"plan": plan} if plan else {}))
    probs = torch.softmax(logits[0].double(), -1).numpy()  # probs[t-1]: the next token is ids[t]
    p_eos = probs[:, tok.eos_id]
    at_line = np.isin(ids[1:-1], lines)
    points = np.flatnonzero(at_line[1:] | at_line[:-1]) + 1  # next token a bar line, or last one was
    return np.append(p_eos[points], p_eos[-1]), _tonic_shares(tok, ids, probs, lines), _last_length(tok, ids, probs)


def _last_length(tok, ids: np.ndarray, probs: np.ndarray) -> tuple | None:
    """(the last note's length in grid steps, the model's expected length there, p(that length), p(that
    length or longer)) from the DUR probabilities after the last note's PITCH; None where it has none."""
    notes = np.flatnonzero(tok.pitch_of[ids] >= 0)
    durs, steps = dur_tokens(tok)
    if not len(notes) or notes[-1] + 1 >= len(ids) or ids[notes[-1] + 1] not in durs:
        return None
    j = notes[-1] + 1
    q = probs[j - 1, durs] / probs[j - 1, durs].sum()
    real = steps[ids[j] - durs[0]]
    return real, float(q @ steps), float(q[steps == real].sum()), float(q[steps >= real].sum())


def _tonic_shares(tok, ids: np.ndarray, probs: np.ndarray, lines: np.ndarray) -> dict:
    key = tok.key_of(ids)
    is_pitch = tok.pitch_of >= 0
    notes = np.flatnonzero(is_pitch[ids])
    if key is None or not len(notes):
        return {}
    bar_lines = np.flatnonzero(np.isin(ids, lines))
    last_bar = notes[notes > bar_lines[bar_lines < notes[-1]][-1]] if (bar_lines < notes[-1]).any() else notes[:0]
    tonic = is_pitch & ((tok.pitch_of - key.tonic) % 12 == 0)
    out = {}
    for place, j in zip(PLACES, (notes[-1], last_bar[0] if len(last_bar) else None, notes[0])):
        if j is not None:
            p = probs[j - 1]
            out[place] = (p[tonic].sum() / p[is_pitch].sum(), bool(tonic[ids[j]]))
    return out


def main() -> None:
    parser, args, data, tunes = teacher_forced_setup(__doc__, tunes=0, default_models="the three shipped")
    from musicgate.nn.hub import load_model
    from musicgate.tokens.grammar import barline_ids

    lines = [f"Teacher-forced on {len(tunes)} test tunes of `{args.data}` "
             "(`python benchmarks/endings.py`); medians, means in parentheses.", "",
             "| model | tunes | p(end) at the real end | chance of ending earlier | "
             "p(end) / earlier, tunes with repeat or ending marks | p(end) / earlier, tunes without |", "|---|---:|---:|---:|---:|---:|"]
    runs = []
    for name in args.model or ["folk-rnn", "folk-lstm", "folk-gru"]:
        model, tok, _ = load_model(name)
        runs.append((name, model, tok, None))
        if getattr(model, "has_form_inputs", False):
            runs[-1] = (f"{name}, no plan", model, tok, None)
            runs.append((f"{name}, planned (the tune's bar lines)", model, tok, "tune"))
    tonic_rows, length_rows = [], []
    for name, model, tok, plan in runs:
        bar_lines = barline_ids(tok)
        marks = np.setdiff1d(bar_lines, [tok.bar_id])
        at_end, earlier, marked = [], [], []
        shares = {place: [] for place in PLACES}
        lengths = []
        for i in tunes:
            ids = data.tune(int(i))
            if ids[-1] != tok.eos_id:
                continue
            p, tonic, length = end_probabilities(model, tok, ids, bar_lines, plan)
            for place, pair in tonic.items():
                shares[place].append(pair)
            if length is not None:
                lengths.append(length)
            at_end.append(p[-1])
            earlier.append(1 - np.prod(1 - p[:-1]))
            marked.append(bool(np.isin(ids, marks).any()))
        at_end, earlier, marked = map(np.asarray, (at_end, earlier, marked))
        cell = lambda x: f"{np.median(x):.3f} ({x.mean():.3f})" if len(x) else "n/a"  # noqa: E731
        lines.append(f"| {name} | {len(at_end)} | {cell(at_end)} | {cell(earlier)} | "
                     f"{cell(at_end[marked])} / {cell(earlier[marked])} ({marked.sum()}) | "
                     f"{cell(at_end[~marked])} / {cell(earlier[~marked])} ({(~marked).sum()}) |")
        pairs = [np.asarray(shares[place], float).reshape(-1, 2) for place in PLACES]
        tonic_rows.append(f"| {name} | " + " | ".join(f"{a[:, 0].mean():.2f} / {a[:, 1].mean():.2f} ({len(a)})"
                                                        for a in pairs) + " |")
        ln = np.asarray(lengths, float).reshape(-1, 4)
        length_rows.append(f"| {name} | {len(ln)} | {ln[:, 0].mean():.1f} | {ln[:, 1].mean():.1f} | {ln[:, 2].mean():.2f} | "
                           f"{ln[:, 3].mean():.2f} |")
    lines += ["", "Does the model end on the tonic? The share of its pitch probability on the tonic of the tune's "
              "key, mean over tunes / the share of real notes there that are the tonic (tunes):", "",
              "| model | " + " | ".join(PLACES) + " |", "|---|" + "---:|" * len(PLACES), *tonic_rows,
              "", "Does it hold the last note as real tunes do? The last note's length (grid steps, 12 to a quarter "
              "note, as the vocabulary counts them) and the model's DUR probabilities there, means over tunes:", "",
              "| model | tunes | real length | the model's expected length | p(the real length) | "
              "p(the real length or longer) |", "|---|---:|---:|---:|---:|---:|", *length_rows]
    text = "\n".join(lines) + "\n"
    emit_table(text, args.output)


if __name__ == "__main__":
    main()
