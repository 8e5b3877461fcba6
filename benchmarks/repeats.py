"""Does a model repeat the last pitch as often as real tunes do? Teacher-forced on held-out folk tunes.

    python benchmarks/repeats.py [--model NAME ...] [--tunes 300] [-o benchmarks/results/repeats.md]

Sampled, the shipped models write about twice the real tunes' share of bars that repeat one pitch
(``A A A A``; ``musicgate evaluate``). This reads real tunes the other way: at every pitch of a real
tune after the first, given the real tune so far, the model's probability that the next pitch is the
last one again (among the pitches; a rest or a bar line between them does not break the run), beside
how often the real next pitch is. Rows by the run of that pitch just before (1, 2, 3, 4 or more
notes). A model that matches the real shares here and still writes more static bars when it samples
is led there by its own samples, not by what it learned from the tunes. Raw softmax at temperature 1,
the tune's own bar count as the plan.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, teacher_forced_command, teacher_forced_setup  # noqa: E402

RUNS = (1, 2, 3, 4)
"""Run classes: notes of the last pitch in a row just before (the last one is 4 or more)."""


def repeat_rows(model, tok, ids: np.ndarray) -> list[tuple[int, bool, float]]:
    """(run of the last pitch so far, the next pitch repeats it, the model's probability that it does,
    among the pitches) for each pitch of ``ids`` that follows an earlier pitch."""
    x = torch.as_tensor(ids[None, :-1])
    with torch.no_grad():
        logits, _ = model(x, **({"plan": "tune"} if getattr(model, "has_form_inputs", False) else {}))
    probs = torch.softmax(logits[0].double(), -1).numpy()
    is_pitch = tok.pitch_of >= 0
    pitch_mass = probs[:, is_pitch].sum(-1)
    rows, last, run = [], -1, 0
    for t, nxt in enumerate(ids[1:]):
        if is_pitch[ids[t]]:
            run = run + 1 if ids[t] == last else 1
            last = int(ids[t])
        if is_pitch[nxt] and last >= 0:
            rows.append((run, bool(nxt == last), float(probs[t, last] / pitch_mass[t])))
    return rows


def main() -> None:
    parser, args, data, tunes = teacher_forced_setup(__doc__, tunes=300, default_models="folk-rnn, folk-lstm, folk-gru")
    from musicgate.nn.hub import load_model

    names = args.model or ["folk-rnn", "folk-lstm", "folk-gru"]
    command = teacher_forced_command("repeats.py", args, parser)
    head = " | ".join(f"after {r}{'+' if r == RUNS[-1] else ''}" for r in RUNS)
    lines = [f"Teacher-forced on {len(tunes)} test tunes of `{args.data}` (`{command}`). Per run of the last "
             "pitch just before (notes): the share of real next pitches that repeat it / the model's mean "
             "probability that the next pitch does (pitches only), and the pitches counted.", "",
             f"| model | {head} |", "|---|" + "---:|" * len(RUNS)]
    for name in names:
        model, tok, _ = load_model(name)
        model.eval()
        table = np.array([r for i in tunes for r in repeat_rows(model, tok, data.tune(int(i)))], dtype=float)
        cells = []
        for r in RUNS:
            sel = table[:, 0] >= r if r == RUNS[-1] else table[:, 0] == r
            cells.append(f"{table[sel, 1].mean():.3f} / {table[sel, 2].mean():.3f} ({int(sel.sum()):,})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    emit_table("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
