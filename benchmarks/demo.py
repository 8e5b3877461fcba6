"""Wall time of ``musicgate demo`` (target: at most 3 minutes on a 2-core CPU), by stage.

    python benchmarks/demo.py [--model PATH ...] [--threads 2] [--out DIR] [-o benchmarks/results/demo.md]

Runs :func:`musicgate.teach.demo.run_demo` once into a fresh folder (a temporary one unless ``--out``)
with the shipped models (or the given checkpoints) and prints a markdown table: the retention
run, the gallery (with its sampling, files and gate parts) and the total, plus the machine's
CPU count and torch's thread count. Import time is included in the total, as a user sees it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint or shipped name (repeat; default shipped)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as the demo; "
                        "0: torch's own setting)")
    parser.add_argument("--out", type=Path, default=None, help="keep the demo here (default: a temp folder)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="also write the table here (markdown)")
    args = parser.parse_args()
    import torch

    from musicgate.teach.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "demo"
        result = run_demo(out, models=args.model, quiet=True, threads=args.threads or None)
        total = time.perf_counter() - START
        parts = json.loads((result.index.parent / "gallery.json").read_text())["seconds"]
        rows = [("retention run", result.seconds.get("retention", 0.0)),
                ("gallery", result.seconds["gallery"]),
                ("  of which sampling", parts.get("sampling", 0.0)),
                ("  of which MIDI, WAV, MusicXML, roll pictures", parts.get("files", 0.0)),
                ("  of which gate traces and pictures", parts.get("gates", 0.0)),
                ("total, imports included", total)]
        load = os.getloadavg()[0]
    lines = [f"`musicgate demo` (`python benchmarks/demo.py`): {machine()}, torch threads "
             f"{args.threads or torch.get_num_threads()}, models {', '.join(args.model or ['shipped'])}, "
             f"load average {load:.2f} at the end\n", "| stage | seconds |", "|---|---|"]
    lines += [f"| {name} | {sec:.1f} |" for name, sec in rows]
    lines.append(f"\ntarget: total <= 180 s -> {'met' if total <= 180 else 'NOT met'}")
    emit_table("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
