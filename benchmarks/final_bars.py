"""How the models make their final bar: one long tonic, or the tonic said twice, and was it the model's choice?

    python benchmarks/final_bars.py [--models folk-lstm folk-gru] [--num 16] [--seeds 1 2 3] [-o FILE]

Samples the musicality sets (the six keys of ``scripts/musicality.sh``, each its own seed, default
settings: the same tunes as ``musicality-288``), then reads each tune's final bar (the notes after the
last bar line that has notes after it) and, teacher-forced on the tune's own tokens with its plan, the
model's probability that the final bar's first note fills the bar (a DUR at least as long as the
final bar's notes together); and the share of tunes whose last part (after its last repeat start or
part end) has two bar lines or fewer, a part opened and closed at once; of the tunes in two or more
parts (``part_bars``), the share with a part after the first of fewer than 0.6 times the first's bars,
a part cut short (AABB tunes have parts of equal length); the share with a ``:|`` closing a part of one
or two bars (``short_repeat``); the share that end with a repeat start still open, or with endings not
as ABC writes them (``ending_flaw``), or with a ``|:`` after the last note in the tokens (the decoder
reads it as the final bar line), and (models) the share cut at the maximum length. The real tunes of
the test split, as written, beside them (their shares only). And the meter grammar's part
(``generate``'s, with its rules of style, see :mod:`musicgate.tokens.grammar`): the share of tunes in
which the model put 0.5 or more on EOS where the grammar forbade it (for real tunes: tunes that end
where it forbids), and how the final bar came out in those tunes and in the others. If a tune that ends
on the tonic said two or more times had a long note there at good odds, the split was the sampler's bad luck; if not, the model chose it.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MUSICALITY_KEYS, dur_tokens, emit_table, key_seed, table  # noqa: E402


def final_bar(tok, ids: np.ndarray) -> np.ndarray:
    """Positions of the notes of a tune's final bar (after its last bar line with notes after it)."""
    notes = np.flatnonzero(tok.pitch_of[ids] >= 0)
    lines = np.flatnonzero(np.isin(ids, tok.barline_ids))
    lines = lines[lines < notes[-1]] if len(notes) else lines
    return notes[notes > lines[-1]] if len(lines) else notes


def stub_part(tok, ids: np.ndarray) -> bool:
    """True when the tune's last part (after its last REPEAT_START or PART_END, with notes after it) has
    two bar lines or fewer: a part opened and closed at once."""
    marks = np.flatnonzero(np.isin(ids, [tok.ids["REPEAT_START"], tok.ids["PART_END"]]))
    notes = np.flatnonzero(tok.pitch_of[ids] >= 0)
    if not len(marks) or not len(notes) or marks[-1] > notes[-1]:
        return False
    return int(np.isin(ids[marks[-1] + 1:], tok.barline_ids).sum()) <= 2


def parts_of(tok, ids: np.ndarray) -> list[tuple[int, list]]:
    """(bars, the bar-line tokens at its close, in order) of each part of a tune, as written: a part ends at a bar
    line that holds a repeat end or a part end (several bar-line tokens at one place are one bar line)
    unless a second ending starts there, and the last part at the tune's end (no tokens at its close).
    Bar lines before the part's first note (a tune that opens with ``|:``) are not counted; a tune that
    ends after its last bar line's notes counts that last bar."""
    ends = {tok.ids["REPEAT_END"], tok.ids["PART_END"]}
    lines, second = set(int(i) for i in tok.barline_ids), tok.ids["ENDING_2"]
    parts, bars, notes, place = [], 0, False, []
    for t in [*np.asarray(ids).tolist(), -1]:
        if t in lines:
            place.append(t)
            continue
        if place and notes:   # the bar line that stood before this token
            bars += 1
            if ends & set(place) and second not in place:
                parts.append((bars, place))
                bars, notes = 0, False
        place = []
        if t >= 0 and tok.pitch_of[t] >= 0:
            notes = True
    if notes:
        parts.append((bars + 1, []))
    return parts


def part_bars(tok, ids: np.ndarray) -> list[int]:
    """Bars in each part of a tune, as written (:func:`parts_of`)."""
    return [bars for bars, _ in parts_of(tok, ids)]


def short_repeat(tok, ids: np.ndarray) -> bool:
    """True when a ``:|`` closes a part of one or two bars (``|: d2 | c2 :|``; a first ending's ``:|`` is in
    its part and does not close it; at a bar line with both, the first of ``:|`` and ``||`` closes it)."""
    end, part_end = tok.ids["REPEAT_END"], tok.ids["PART_END"]
    return any(bars <= 2 and next(t for t in marks if t in (end, part_end)) == end
               for bars, marks in parts_of(tok, ids) if marks)


def open_repeat(tok, ids: np.ndarray) -> bool:
    """True when a repeat is still open at the tune's end (a ``|:`` with notes after it and no ``:|``): the
    notation leaves the reader asking where the repeat goes back from (played, it is played once). A
    ``|:`` with no note after it (O'Neill's ``|:|`` at a tune's end) opens nothing."""
    start, end = tok.ids["REPEAT_START"], tok.ids["REPEAT_END"]
    state = 0   # 1: after |:, 2: a note has followed it
    for t in np.asarray(ids).tolist():
        state = 1 if t == start else 0 if t == end else 2 if state == 1 and tok.pitch_of[t] >= 0 else state
    return state == 2


def ending_flaw(tok, ids: np.ndarray) -> bool:
    """True when a tune's endings are not as ABC writes them: a first ending (``|1``) with no second, a second
    (``|2``) anywhere but right after the ``:|`` that closes a first, or a ``:|`` right after a part end
    (``|| :|``) at one bar line."""
    words = [tok.vocab[t] for t in np.asarray(ids).tolist()]
    pending = False
    for i, w in enumerate(words):
        if w == "ENDING_1":
            if pending:
                return True
            pending = True
        elif w == "ENDING_2":
            if not pending or words[i - 1] != "REPEAT_END":
                return True
            pending = False
        elif w == "REPEAT_END" and i and words[i - 1] == "PART_END":
            return True
    return pending


def trailing_repeat_start(tok, ids: np.ndarray) -> bool:
    """True when a tune's last bar-line token before its end is a ``|:`` with no note after it (O'Neill's
    ``|:|`` after a tune's last note reads so): a repeat sign that opens nothing, left at the end."""
    ids = np.asarray(ids)
    notes = np.flatnonzero(tok.pitch_of[ids] >= 0)
    after = ids[notes[-1] + 1:] if len(notes) else ids
    return bool((after == tok.ids["REPEAT_START"]).any())


def short_part(tok, ids: np.ndarray, under: float = 0.6) -> bool | None:
    """For a tune of two or more parts, True when a part after the first has fewer than ``under`` times the
    bars of the first (a part cut short; AABB tunes have parts of equal length); None for one part."""
    parts = part_bars(tok, ids)
    return None if len(parts) < 2 else any(p < under * parts[0] for p in parts[1:])


def refused_ends(grammar, ids: np.ndarray, p_eos: np.ndarray | None = None, at: float = 0.5) -> bool:
    """True when the meter grammar (``generate``'s: ``tok.sampling_grammar(True)``) refused an end the tune
    wanted: with ``p_eos`` (the model's p(EOS) before each token, teacher-forced), a place where it put
    ``at`` or more on EOS and the grammar forbade it; without (a real tune), its own EOS where it forbids it."""
    tok = grammar.tok
    state = grammar.start(1, ids[None, :3])
    for t in range(3, len(ids)):
        allowed = grammar.allowed(state)[0]
        if not allowed[tok.eos_id] and (ids[t] == tok.eos_id if p_eos is None else p_eos[t - 1] >= at):
            return True
        if not allowed[ids[t]]:   # a real tune that breaks the grammar before its end: not counted
            return False
        grammar.advance(state, [ids[t]])
    return False


def _kind(tok, ids: np.ndarray, fin: np.ndarray, tonic: int) -> str:
    pitches = tok.pitch_of[ids[fin]]
    return ("one" if len(fin) == 1 else
            "tonic" if len(set(pitches)) == 1 and (pitches[0] - tonic) % 12 == 0 else "other")


def real_row(data: str = "datasets/folk") -> list:
    """The real tunes of the test split: the shares of the table (no model probabilities)."""
    from musicgate.data.prepared import open_dataset

    d = open_dataset(data)
    tok, kinds, stubs, refused, short, opened, flawed, trailing, brief = d.tokenizer, [], [], [], [], [], [], [], []
    grammar = tok.sampling_grammar(True)
    for i in d.splits["test"]:
        ids = np.asarray(d.tune(int(i)), np.int64)
        fin, key = final_bar(tok, ids), tok.key_of(ids)
        if len(fin) and key is not None:
            kinds.append(_kind(tok, ids, fin, key.tonic))
            stubs.append(stub_part(tok, ids))
            refused.append(refused_ends(grammar, ids))
            short.append(short_part(tok, ids))
            brief.append(short_repeat(tok, ids))
            opened.append(open_repeat(tok, ids))
            flawed.append(ending_flaw(tok, ids))
            trailing.append(trailing_repeat_start(tok, ids))
    return ["real tunes (test split)", len(kinds), f"{kinds.count('one') / len(kinds):.2f}",
            f"{kinds.count('tonic') / len(kinds):.2f}", f"{np.mean(stubs):.3f}", _parts(short), f"{np.mean(brief):.3f}",
            f"{np.mean(opened):.3f}", f"{np.mean(flawed):.3f}", f"{np.mean(trailing):.3f}", "-", f"{np.mean(refused):.2f}",
            "-", "-", "-", "-"]


def _parts(short: list) -> str:
    """'share of tunes in 2+ parts: share of those with a part after the first cut short'."""
    many = [s for s in short if s is not None]
    return f"{len(many) / len(short):.2f}: {np.mean(many):.2f}" if many else f"{0:.2f}: n/a"


def measure(name: str, num: int, seeds: list[int]) -> list:
    """[model, tunes, final bar one note, tonic two or more times, last part of two bar lines or fewer,
    p(fills) where one note, where the tonic twice or more, where other]."""
    import torch

    from musicgate.generation.api import generate_run, load_model
    from musicgate.music.keys import parse_key

    loaded = load_model(name)
    net, tok, _ = loaded
    durs, steps = dur_tokens(tok)
    grammar = tok.sampling_grammar(True)
    fills: dict[str, list] = {"one": [], "tonic": [], "other": []}
    n = stubs = cut = 0
    short, opened, flawed, trailing, brief = [], [], [], [], []
    by_refusal: dict[bool, list] = {True: [], False: []}   # the final bar's kind, by whether an end was refused
    for seed in seeds:
        for place, key in enumerate(MUSICALITY_KEYS):
            run = generate_run(loaded, key=key, num=num, seed=key_seed(seed, place))
            tonic = parse_key(key).tonic
            for ids, plan, was_cut in zip(run.ids, run.settings["planned_bars"], run.settings["cut"]):
                ids = np.asarray(ids, np.int64)
                fin = final_bar(tok, ids)
                if ids[-1] != tok.eos_id or not len(fin) or ids[fin[0] + 1] not in durs:
                    continue
                n += 1
                stubs += stub_part(tok, ids)
                cut += was_cut
                short.append(short_part(tok, ids))
                brief.append(short_repeat(tok, ids))
                opened.append(open_repeat(tok, ids))
                flawed.append(ending_flaw(tok, ids))
                trailing.append(trailing_repeat_start(tok, ids))
                with torch.no_grad():
                    logits, _ = net(torch.as_tensor(ids[None, :-1]), plan=torch.tensor([plan]))
                probs = torch.softmax(logits[0].double(), -1).numpy()
                by_refusal[refused_ends(grammar, ids, probs[:, tok.eos_id])].append(_kind(tok, ids, fin, tonic))
                p = probs[fin[0], durs]   # the first note's DUR
                length = sum(int(steps[ids[i + 1] - durs[0]]) for i in fin if ids[i + 1] in durs)
                fills[_kind(tok, ids, fin, tonic)].append(float(p[steps >= length].sum() / p.sum()))
    share = lambda k: len(fills[k]) / n  # noqa: E731
    med = lambda k: f"{np.median(fills[k]):.2f} ({len(fills[k])})" if fills[k] else "n/a"  # noqa: E731
    tonic_in = lambda r: f"{by_refusal[r].count('tonic') / max(len(by_refusal[r]), 1):.2f}"  # noqa: E731
    return [name, n, f"{share('one'):.2f}", f"{share('tonic'):.2f}", f"{stubs / n:.3f}", _parts(short),
            f"{np.mean(brief):.3f}", f"{np.mean(opened):.3f}", f"{np.mean(flawed):.3f}", f"{np.mean(trailing):.3f}",
            f"{cut / n:.3f}", f"{len(by_refusal[True]) / n:.2f}", f"{tonic_in(True)} / {tonic_in(False)}", med("one"),
            med("tonic"), med("other")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["folk-lstm", "folk-gru"])
    ap.add_argument("--num", type=int, default=16, help="tunes per key, model and seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = [real_row(), *(measure(m, args.num, args.seeds) for m in args.models)]
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    text = (f"Final bars of the musicality sets ({args.num} tunes per key in the six keys, seeds "
            f"{', '.join(map(str, args.seeds))}, each key its own seed, default settings), and teacher-forced on "
            f"the tune's own tokens the model's probability that the final bar's first note fills the bar, "
            f"median (tunes) (`python benchmarks/final_bars.py {given}`):\n\n"
            + table(["model", "tunes", "final bar one note", "final bar the tonic 2+ times",
                     "last part of 2 bar lines or fewer",
                     "tunes in 2+ parts: of those, a part after the first under 0.6 of the first's bars",
                     "a :| closing a part of 1-2 bars",
                     "a repeat start left open at the end", "endings not as ABC writes them",
                     "a |: after the last note (decoded as the final bar line)", "cut at the maximum length",
                     "an end refused by the meter grammar",
                     "final bar the tonic 2+ times, where an end was refused / elsewhere",
                     "p(fills) where one note", "p(fills) where the tonic 2+ times", "p(fills) where other"], rows))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
