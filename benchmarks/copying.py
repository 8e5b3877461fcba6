"""Does a model copy when a tune repeats itself? Teacher-forced on held-out real tunes of the folk corpus.

    python benchmarks/copying.py [--model NAME ...] [--tunes 300] [-o benchmarks/results/copying.md]

Folk tunes repeat: bar 5 often starts like bar 1, a part comes back. The lookback inputs
(:mod:`musicgate.nn.lookback`) hand the model the token that came next k bars earlier at the same
point of the bar. Here, for every pitch of a real tune where that lookback token exists, the run is
the number of tokens in a row just before it that were their lookback token (the tune is copying k
bars back). For each distance and run class the table gives the share of real next pitches that
copy again, beside the model's probability on the copy (mean). A calibrated model matches the two;
a model that gives 0.3 where the tune copies 0.9 of the time will not repeat a phrase when it samples
one token after another. Raw softmax at temperature 1, the tune's own bar count as the plan.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, teacher_forced_command, teacher_forced_setup  # noqa: E402

RUNS = ((0, 0), (1, 3), (4, 7), (8, 15), (16, 10**9))
"""Run classes (tokens copied in a row just before the pitch)."""


def copy_rows(model, tok, ids: np.ndarray) -> list[tuple[int, int, bool, float]]:
    """(distance, run, the pitch copies, the model's probability on the copy) for each pitch of
    ``ids`` whose lookback token of that distance exists."""
    look, v = model.look, model.look.vocab_size
    x = torch.as_tensor(ids[None, :-1])
    with torch.no_grad():
        logits, _ = model(x, **({"plan": "tune"} if getattr(model, "has_form_inputs", False) else {}))
        cand = look.ids(x)[0][0].numpy()                      # (T, K): candidates for the next token
    probs = torch.softmax(logits[0].double(), -1).numpy()
    nxt, is_pitch = ids[1:], tok.pitch_of >= 0
    rows = []
    for j, k in enumerate(look.bars):
        run = 0
        for t in range(len(nxt)):
            hit = cand[t, j] == nxt[t]
            if is_pitch[nxt[t]] and cand[t, j] < v:
                rows.append((k, run, bool(hit), float(probs[t, cand[t, j]])))
            run = run + 1 if hit else 0
    return rows


def main() -> None:
    parser, args, data, tunes = teacher_forced_setup(__doc__, tunes=300, default_models="folk-lstm, folk-gru")
    from musicgate.nn.hub import load_model

    names = args.model or ["folk-lstm", "folk-gru"]
    head = " | ".join(f"run {lo}-{hi}" if hi < 10**9 else f"run {lo}+" for lo, hi in RUNS)
    command = teacher_forced_command("copying.py", args, parser)
    lines = [f"Teacher-forced on {len(tunes)} test tunes of `{args.data}` (`{command}`). "
             "Per distance k (bars) and run (tokens copied in a row just before the pitch): the share of "
             "real pitches that copy again / the model's mean probability on the copy (pitches).", "",
             f"| model | k | {head} |", "|---|---:|" + "---:|" * len(RUNS)]
    for name in names:
        model, tok, _ = load_model(name)
        if not getattr(model, "has_lookback", False):
            raise SystemExit(f"copying.py: {name} has no lookback inputs; give a model with them")
        rows = [r for i in tunes for r in copy_rows(model, tok, data.tune(int(i)))]
        table = np.array([(k, run, hit, p) for k, run, hit, p in rows], dtype=float)
        for k in model.look.bars:
            cells = []
            for lo, hi in RUNS:
                sel = (table[:, 0] == k) & (table[:, 1] >= lo) & (table[:, 1] <= hi)
                cells.append(f"{table[sel, 2].mean():.2f} / {table[sel, 3].mean():.2f} ({int(sel.sum())})"
                             if sel.any() else "-")
            lines.append(f"| {name} | {k} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    emit_table(text, args.output)


if __name__ == "__main__":
    main()
