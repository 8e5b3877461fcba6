"""How long the tunes are, meter by meter: the plans drawn and the notes written, beside real tunes.

    python benchmarks/lengths.py DIR [DIR ...] [-o FILE]

Each DIR is a folder that ``musicgate generate`` wrote (its run JSON files name each piece's meter,
planned bar lines and new notes; ``scripts/musicality.sh`` writes one per model under
``generated/musicality-288``). The real tunes are the folk corpus's test split as the melody tokens write
them (notes and bar-line tokens as written: repeats not played). Per meter, for the five commonest and
the rest together: tunes, bar lines (planned for generated tunes, written for real ones) as median /
95th percentile / largest, notes per tune as written (median, 95th percentile, largest), and the share of
tunes with more notes than 99% of the real tunes in their meter (real tunes: 0.01 by construction).
A plan drawn without regard to the meter gives a 4/4 tune the bar count of a long 2/4 one.
"""
from __future__ import annotations

import argparse
import collections
import json
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, table  # noqa: E402

METERS = ("4/4", "2/4", "3/4", "6/8", "2/2")


def real_lengths(split: str = "test") -> dict[str, list[tuple[int, int]]]:
    """{meter ("6/8", "other"): [(bar lines, notes) per tune]} of the folk corpus's ``split``, as written."""
    from musicgate.data.corpora import load_prepared

    data = load_prepared("folk")
    tok = data.tokenizer
    starts = tok.note_starts()
    out: dict[str, list] = collections.defaultdict(list)
    for i in data.splits[split]:
        ids = np.asarray(data.tune(int(i)))
        meter = tok.meter_of(ids)
        name = f"{meter[0]}/{meter[1]}" if meter else "unknown"
        out[name].append((int(np.isin(ids, tok.barline_ids).sum()), int(starts[ids].sum())))
    return out


def generated_lengths(folder: Path) -> tuple[str, dict[str, list[tuple[int, int]]], int]:
    """(model name, {meter: [(planned bar lines, new notes)]}, pieces cut) of a generated folder's runs."""
    runs = sorted(folder.glob("*.json"))
    if not runs:
        raise SystemExit(f"lengths.py: {folder} has no run JSON files; give a folder musicgate generate wrote")
    out: dict[str, list] = collections.defaultdict(list)
    name, cut = None, 0
    for path in runs:
        run = json.loads(path.read_text())
        name = name or run.get("model")
        if run.get("planned_bars") is None:
            raise SystemExit(f"lengths.py: {path} has no planned_bars: a model with form inputs, not exact-length")
        for meter, plan, notes, c in zip(run["meters"], run["planned_bars"], run["new_notes"], run["cut"]):
            out[meter or "unknown"].append((int(plan), int(notes)))
            cut += bool(c)
    return str(name), out, cut


def _group(by_meter: dict[str, list]) -> dict[str, list]:
    out: dict[str, list] = {m: list(by_meter.get(m, [])) for m in METERS}
    out["other"] = [x for m, v in by_meter.items() if m not in METERS for x in v]
    return out


def rows_for(label: str, by_meter: dict[str, list], limits: dict[str, float]) -> list[list]:
    rows = []
    for meter, pairs in _group(by_meter).items():
        if not pairs:
            continue
        bars, notes = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        long = float(np.mean(notes > limits[meter])) if meter in limits else float("nan")
        rows.append([label, meter, len(pairs),
                     f"{np.median(bars):.0f} / {np.percentile(bars, 95):.0f} / {bars.max()}",
                     f"{np.median(notes):.0f} / {np.percentile(notes, 95):.0f} / {notes.max()}", f"{long:.3f}"])
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+", type=Path, help="folders that musicgate generate wrote")
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    real = _group(real_lengths())
    limits = {m: float(np.percentile([p[1] for p in v], 99)) for m, v in real.items() if v}
    rows = rows_for("real tunes (test split)", real, limits)
    cuts = []
    for folder in args.folders:
        name, by_meter, cut = generated_lengths(folder)
        rows += rows_for(name, by_meter, limits)
        cuts.append(f"{name} {cut}")
    command = "python benchmarks/lengths.py " + " ".join(shlex.quote(str(f)) for f in args.folders)
    text = (f"Lengths by meter (`{command}`; bar lines planned for generated tunes, written for real ones; notes "
            f"as written; pieces cut at the maximum length: {', '.join(cuts)}):\n\n"
            + table(["tunes", "meter", "n", "bar lines: median / 95% / largest",
                     "notes: median / 95% / largest", "longer than 99% of real tunes in the meter"], rows) + "\n")
    emit_table(text, args.output)


if __name__ == "__main__":
    main()
