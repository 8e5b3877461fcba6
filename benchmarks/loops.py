"""Loops of one passage: per set of a `musicgate evaluate` report, how many times one passage of 1-4
whole bars comes in a row (the mean, the share of tunes where one comes 4 or more times, the most).

    python benchmarks/loops.py REPORT/evaluate.json [-o REPORT/loops.md]

Real tunes average 1.27 and 2.1% of them play one passage 4 times in a row (a part played twice by its
repeat signs is 2); a sampler caught in a loop plays one 8 or 16 times.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np


def loops_table(report: dict, command: str) -> str:
    """Markdown: one row per set of ``report`` (the real tunes first), from its tunes' ``passage_loop``."""
    lines = [f"Loops of one passage (`{command}`): per tune, the most times a passage of 1-4 whole bars is "
             "played in a row (as played: repeat signs unrolled).", "",
             "| set | tunes | mean | tunes with a passage 4+ times in a row | most |", "|---|---:|---:|---:|---:|"]
    for s in [report["reference"], *report["sets"]]:
        v = np.array([t["passage_loop"] for t in s["per_tune"] if t.get("passage_loop") is not None], float)
        v = v[~np.isnan(v)]
        if len(v):
            lines.append(f"| {s['name']} | {len(v)} | {v.mean():.2f} | {np.mean(v >= 4):.3f} | {v.max():.0f} |")
        else:
            lines.append(f"| {s['name']} | 0 | n/a | n/a | n/a |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path, help="evaluate.json written by musicgate evaluate")
    ap.add_argument("-o", "--output", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
        report["reference"], report["sets"]
    except (OSError, ValueError, KeyError) as e:
        print(f"loops.py: {args.report}: not a musicgate evaluate report ({e}); give the evaluate.json "
              "that `musicgate evaluate -o DIR` wrote", file=sys.stderr)
        return 2
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    text = loops_table(report, f"python benchmarks/loops.py {given}")
    print(text, end="")
    if args.output:
        from musicgate.files import atomic_write_text

        atomic_write_text(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
