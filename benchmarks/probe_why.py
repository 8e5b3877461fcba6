"""Why the default LSTM fails the key-memory probe past T = 10: measurements during training.

Writes benchmarks/results/probe/why.json and why.md (see musicgate.experiments.probe_why for
what each column measures). About 5 minutes on one CPU thread (--quick: 1).

    python benchmarks/probe_why.py [--quick] [-o benchmarks/results/probe]
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from musicgate.experiments.probe import ProbeConfig
from musicgate.experiments.probe_why import diagnose_many, why_table
from musicgate.files import atomic_write_text

RUNS = [("lstm", "default", 10), ("lstm", "default", 30), ("lstm", "default", 30, 0.003),
        ("lstm", "default", 100), ("lstm", "forget1", 100), ("lstm", "chrono", 100), ("gru", "default", 30),
        ("gru", "default", 100)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 steps, T <= 30")
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results/probe"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = ProbeConfig(steps=100 if args.quick else 400)
    runs = [(c, i, min(T, 30), *lr) for c, i, T, *lr in RUNS] if args.quick else RUNS
    start = time.perf_counter()
    found = diagnose_many(runs, config, every=25 if args.quick else 50,
                          log=lambda d: print(f"{d['cell']} {d['init']} T={d['T']}: {d['seconds']:.0f} s", flush=True))
    args.output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output / "why.json", json.dumps(
        {"command": "python benchmarks/probe_why.py" + (" --quick" if args.quick else ""), "config": asdict(config),
         "seconds": time.perf_counter() - start, "runs": found}, indent=1) + "\n")
    text = ["# Why the default LSTM fails the key-memory probe", "",
            "Measured every 50 steps while training exactly as `musicgate experiment probe` does (seed 0, "
            f"{config.steps} Adam steps, per-cell learning rate), on a fixed batch of 48 sequences (two per key). "
            "Columns: see `musicgate/experiments/probe_why.py`.", "",
            why_table(found, steps=[0, 50, 100, 200, 400]), "",
            f"Command: `python benchmarks/probe_why.py{' --quick' if args.quick else ''}` "
            f"({(time.perf_counter() - start) / 60:.1f} min on one CPU thread).", ""]
    atomic_write_text(args.output / "why.md", "\n".join(text))
    print(f"wrote {args.output / 'why.md'}")


if __name__ == "__main__":
    main()
