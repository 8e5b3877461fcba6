"""What a dance name should mean to ``generate --time-signature``: the corpus's own notation, measured.

    python benchmarks/dances.py [--num 12] [--seed 5] [-o benchmarks/results/dances.md]

The folk corpus writes each tune's dance in its ``R:`` field (O'Neill's and Ryan's collections; the
Essen songs name genres there) beside its ``M:``. This counts the time signatures each dance is
written in, then samples the gated shipped models with each candidate meter (``--num`` tunes per key
in D major, G major, E minor and A dorian, default settings) and measures the tunes as written beside
the corpus's real tunes of that dance: the share of running notes (an eighth of a bar in C|, 4/4 and
2/4, a sixth in 6/8: the even notes a reel or a jig runs in), the share of notes in dotted pairs (a
hornpipe's rhythm) and of tunes with a fifth of their notes in them, the share of notes followed by a
rest, the notes per tune, the share of tunes with repeat signs or endings (an AABB form), and the share that
play one passage of 1-4 bars 4 or more times in a row, as played (a loop).
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, key_seed, table  # noqa: E402

KEYS = ("D major", "G major", "E minor", "A dorian")
MODELS = ("folk-lstm", "folk-gru")
CANDIDATES = {"reel": ("reel", "C|", "4/4"), "hornpipe": ("hornpipe", "2/4"), "jig": ("jig", "6/8")}
"""What to ask each dance by: its name (its meter and a plan drawn from the corpus's tunes of that dance),
then meters alone (plans drawn from all training tunes)."""
_DANCE = {"reel": "reel", "hornpipe": "hornpipe", "jig": "jig", "double jig": "jig", "slipjig": "slip jig",
          "slip jig": "slip jig", "strathspey": "strathspey", "clog": "clog", "highland fling": "highland fling",
          "slide": "slide", "waltz": "waltz", "polka": "polka"}


def corpus_dances(read: bool = True) -> tuple[dict[str, collections.Counter], dict[str, list]]:
    """({dance: Counter of M: fields}, {dance: [Notes as written]}) of the corpus's dance tunes (no
    Notes when ``read`` is False)."""
    from musicgate.data.corpora import source_files
    from musicgate.errors import MidiError
    from musicgate.music.abc import read_abc, split_tunes

    meters: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    tunes: dict[str, list] = collections.defaultdict(list)
    for path in source_files("folk"):
        if path.parent.name == "essenFolksong":  # its R: fields are song genres
            continue
        for text in split_tunes(path.read_text(encoding="latin-1")):
            rhythm, meter = re.search(r"^R:\s*(.*)$", text, re.M), re.search(r"^M:\s*(\S+)", text, re.M)
            if not rhythm or not meter:
                continue
            dance = _DANCE.get(re.sub(r"\s+", " ", rhythm[1].strip().lower()))
            if dance is None:
                continue
            meters[dance][meter[1]] += 1
            if not read:
                continue
            try:
                tunes[dance].append(read_abc(text).notes)
            except MidiError:
                continue
    return meters, tunes


def plans(tunes: dict[str, list], least: int = 2, dances: int = 20) -> dict[str, dict[int, int]]:
    """{dance: {bar lines: tunes}}: the melody tokens' bar lines of each dance's tunes written in its
    :data:`~musicgate.music.meters.DANCES` meter; counts of ``least`` tunes or more, for dances with
    ``dances`` such tunes or more (what :data:`~musicgate.music.meters.DANCE_PLANS` holds)."""
    from musicgate.music.meters import DANCES
    from musicgate.tokens.tokenizer import make_tokenizer

    tok = make_tokenizer("melody")
    out = {}
    for dance, notes in tunes.items():
        counts = collections.Counter(int(np.isin(tok.encode(n), tok.barline_ids).sum())
                                     for n in notes if n.meter == DANCES[dance])
        if sum(counts.values()) >= dances:
            out[dance] = {k: v for k, v in sorted(counts.items()) if v >= least}
    return out


def running(meter: tuple[int, int]) -> float:
    """The length of a dance's running notes, in beats: a sixth of a bar in 6/8 (a third in 9/8...),
    else an eighth of a bar (a quaver in C| and 4/4, a semiquaver in 2/4)."""
    num, den = meter
    bar = 4 * num / den
    return bar / num if den == 8 and num % 3 == 0 else bar / 8


def dotted(n) -> float:
    """Share of a tune's notes in dotted pairs: a note one and a half running notes long, then one half
    of one (``A>B`` in C| at L:1/8: a dotted quaver and a semiquaver), the hornpipe's rhythm."""
    r, d = running(n.meter), n.duration
    pairs = np.isclose(d[:-1], 1.5 * r) & np.isclose(d[1:], 0.5 * r)
    return 2 * float(pairs.sum()) / len(d)


def measures(tunes: list) -> list:
    """[tunes, running notes, notes in dotted pairs, tunes with 20% of their notes or more in them, notes
    followed by a rest, notes per tune (median), tunes with repeat signs, tunes that play one passage of
    1-4 bars 4 or more times in a row (as played)]."""
    from musicgate.analysis.musicality import passage_loop

    quavers, dots, rests, lengths, form, loops = [], [], [], [], [], []
    for n in tunes:
        if len(n) < 2 or n.meter is None:
            continue
        loops.append(passage_loop(n.played()) >= 4)
        dots.append(dotted(n))
        quavers.append(np.mean(np.isclose(n.duration, running(n.meter))))
        rests.append(np.mean(n.onset[1:] - (n.onset[:-1] + n.duration[:-1]) > 1e-6))
        lengths.append(len(n))
        form.append(bool(n.form_marks))
    return [f"{len(lengths):,}", f"{np.mean(quavers):.2f}", f"{np.mean(dots):.2f}",
            f"{np.mean(np.array(dots) >= 0.2):.2f}", f"{np.mean(rests):.3f}", f"{np.median(lengths):.0f}",
            f"{np.mean(form):.2f}", f"{np.mean(loops):.3f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=12, help="tunes per key, meter and model (default 12)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="shipped names or checkpoints")
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--plans", action="store_true",
                        help="print musicgate.music.meters.DANCE_PLANS as the corpus gives it, and stop")
    args = parser.parse_args(argv)
    from musicgate.generation.api import generate_run, load_model
    from musicgate.music.meters import DANCES, meter_name, parse_meter

    meters, real = corpus_dances()
    if args.plans:
        print(plans(real))
        return 0
    esc = lambda text: text.replace("|", "\\|")  # noqa: E731  (C| in a markdown table cell)
    written = [[d, f"{sum(meters[d].values()):,}", esc(", ".join(f"{m}: {c}" for m, c in meters[d].most_common(4))),
                f"{DANCES[d][0]}/{DANCES[d][1]}"] for d in CANDIDATES]
    rows = []
    models = {m: load_model(m) for m in args.models}
    for dance, candidates in CANDIDATES.items():
        rows.append([f"real {dance}s (O'Neill's, Ryan's)", "-", *measures(real[dance])])
        own = [n for n in real[dance] if n.meter == DANCES[dance]]   # those written in the meter it is asked in
        rows.append([f"real {dance}s written in {esc(meter_name(DANCES[dance]))}", meter_name(DANCES[dance]), *measures(own)])
        for asked in candidates:
            meter = meter_name(parse_meter(asked))
            label = f"--time-signature {esc(asked)}" + (f" ({meter})" if asked in DANCES else "")
            for name, loaded in models.items():
                tunes = [n for i, key in enumerate(KEYS)   # each key its own seed, as scripts/musicality.sh
                         for n in generate_run(loaded, key=key, num=args.num, seed=key_seed(args.seed, i, len(KEYS)),
                                               time_signature=asked).notes]
                rows.append([f"{name}, {label}", meter, *measures(tunes)])
    text = ("How the folk corpus writes its dances (the `R:` field of O'Neill's and Ryan's tunes, and their `M:`) "
            "and what `--time-signature DANCE` gives now:\n\n"
            + table(["dance", "tunes", "written in", "--time-signature DANCE"], written)
            + f"\n\nThe gated shipped models asked for each dance in each meter ({args.num} tunes per key in "
            f"{', '.join(KEYS)}, seed {args.seed} (key number k drawn with generate's seed "
            f"{len(KEYS)} x {args.seed} + k), default settings), measured as written beside the corpus's "
            "real tunes of that dance. Asked by its name, a dance's bar plans are drawn from the corpus's tunes "
            "of that dance; asked by a meter, from all the training tunes (`python benchmarks/dances.py`):\n\n"
            + table(["tunes", "meter", "n", "running notes (1/8 of a bar; 1/6 in 6/8)", "notes in dotted pairs",
                     "dotted tunes (20%+ of notes)", "notes followed by a rest",
                     "notes per tune, median", "tunes with repeat signs", "tunes looping a passage 4+ times"],
                    rows))
    emit_table(text, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
