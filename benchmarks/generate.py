"""Batched generation speed: notes/s at batch 1 and batch 256, and GFLOP/s against the matmul rate.

Per cell at the shipped size (the melody vocabulary of 290 tokens, 2 layers, ~2M parameters;
the hidden size is read from ``musicgate/pretrained/folk-CELL.pt`` when it is there, else
``hidden_for_params``), :func:`musicgate.generation.sample.sample` generates pieces of ``--notes`` notes.
The target: batch 256 at >= 30x the notes/s of batch 1.

GFLOP/s counts the matrix multiplies of every token step (2 x MACs of the recurrent layers and
the head; the embedding is a lookup) against a big fp32 ``torch.matmul`` measured in the same
run, at the same thread count. Batch 1 runs on one thread (what ``sample`` picks for small
batches); batch 256 on torch's default threads, and on one thread for comparison. Every piece has
exactly ``--notes`` notes (``exact=True``); ``--grammars meter,free`` measures the meter-true melody
grammar (the default) against the structural one, interleaved so both see the same load::

    nice -n 10 .venv/bin/python benchmarks/generate.py [--notes 200] [--repeat 2] [--device cpu] \
        [--grammars meter,free] [-o benchmarks/results/generate.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table, machine, table  # noqa: E402

from musicgate.music.keys import MAJOR_MINOR_KEYS  # noqa: E402
from musicgate.nn.models import RecurrentLM, count_params, hidden_for_params  # noqa: E402
from musicgate.generation.sample import sample  # noqa: E402
from musicgate.tokens.tokenizer import make_tokenizer  # noqa: E402

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PARAMS = 2_000_000


def step_flops(cell: str, vocab: int, hidden: int, layers: int, embed: int | None = None) -> float:
    """Matmul FLOPs of one token step: recurrent layers (input and hidden) and the head."""
    width = hidden if embed is None else embed
    g = GATES[cell]
    macs = g * hidden * (width + hidden) + (layers - 1) * g * hidden * 2 * hidden + hidden * vocab
    return 2.0 * macs


def matmul_rate(threads: int, device: torch.device, n: int = 2048) -> float:
    """Best measured FLOP/s of an n x n fp32 matrix multiply on ``threads`` threads."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        best = float("inf")
        for _ in range(5):
            _sync(device)
            t = time.perf_counter()
            a @ b
            _sync(device)
            best = min(best, time.perf_counter() - t)
        return 2.0 * n**3 / best
    finally:
        torch.set_num_threads(old)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def shipped_or_built(cell: str, device: torch.device):
    """The shipped model of ``cell`` when installed, else an untrained one of the shipped size."""
    path = Path(__file__).resolve().parents[1] / "musicgate" / "pretrained" / f"folk-{cell}.pt"
    if path.is_file():
        from musicgate.nn.hub import load_model

        model, tok, _ = load_model(path, device=device)
        return model, tok, "shipped"
    tok = make_tokenizer("melody", pitch_range=(21, 108))
    hidden = hidden_for_params(cell, PARAMS, vocab_size=len(tok), layers=2)
    torch.manual_seed(0)
    return RecurrentLM(vocab_size=len(tok), cell=cell, hidden=hidden, layers=2).to(device).eval(), tok, "untrained"


def measure(model, tok, *, batch: int, notes: int, threads: int | None, repeat: int, meter: bool = True) -> dict:
    """Best of ``repeat`` runs: notes/s and token steps/s (all rows)."""
    keys = [MAJOR_MINOR_KEYS[i % 24] for i in range(batch)]
    starts = tok.note_starts()
    best = None
    for r in range(repeat):
        t = time.perf_counter()
        seqs = sample(model, tok, keys=keys, length=notes, exact=True, meter=meter, seed=r, batch_size=batch,
                      n_threads=threads)
        wall = time.perf_counter() - t
        n_notes = sum(int(starts[s].sum()) for s in seqs)
        lengths = np.array([len(s) - 2 for s in seqs])  # sampled tokens (BOS KEY are the prefix)
        if best is None or wall < best["wall"]:
            # a batch runs until its longest row ends, the last steps on the few rows left
            best = {"wall": wall, "notes_s": n_notes / wall, "tokens_s": lengths.sum() / wall,
                    "rows": f"{np.median(lengths):.0f} / {lengths.max()}"}
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200, help="notes per piece (default 200)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per row; the best counts (default 2)")
    parser.add_argument("--big-batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cells", default="rnn,lstm,gru", help="cells (default: the shipped ones, rnn,lstm,gru)")
    parser.add_argument("--grammars", default="meter", help="melody grammars, comma-separated: meter "
                        "(meter-true, the default of sample) and/or free (structural only)")
    parser.add_argument("--threads", help="thread counts for the big batch, comma-separated "
                        "(default: 1 and torch's default)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="also write the report here (markdown)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cells.split(",")) - GATES.keys())
    if unknown:
        parser.error(f"--cells: no FLOP count for {', '.join(unknown)}; give some of {', '.join(GATES)}")
    out: list[str] = []
    device = torch.device(args.device)
    all_threads = torch.get_num_threads()
    big_threads = sorted({1, all_threads}) if args.threads is None else [int(t) for t in args.threads.split(",")]
    peak = {t: matmul_rate(t, device) for t in sorted({1, all_threads, *big_threads})}
    out.append(f"# Generation speed ({machine()}, torch {torch.__version__}, device {device})\n")
    command = " ".join(["python benchmarks/generate.py", *(sys.argv[1:] if argv is None else argv)])
    out.append(f"`{command}`; load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    rates = ", ".join(f"{r / 1e9:.1f} GFLOP/s on {t} thread(s)" for t, r in peak.items())
    out.append(f"fp32 matmul 2048x2048: {rates}\n")
    rows = []
    for cell in args.cells.split(","):
        model, tok, source = shipped_or_built(cell, device)
        flops = step_flops(cell, len(tok), model.hidden, model.layers, model._embed_arg)
        configs = [(1, 1)] + [(args.big_batch, t) for t in big_threads]
        if device.type != "cpu":
            configs = [(1, all_threads), (args.big_batch, all_threads)]
        base = None
        for batch, threads in configs:
            for grammar in args.grammars.split(","):
                m = measure(model, tok, batch=batch, notes=args.notes, threads=threads, repeat=args.repeat,
                            meter=grammar == "meter")
                base = base or m["notes_s"]
                gflops = m["tokens_s"] * flops / 1e9
                rows.append([cell, f"{model.hidden} ({source})", f"{count_params(model):,}", batch, threads,
                             grammar, m["rows"], m["notes_s"], m["tokens_s"], f"{m['notes_s'] / base:.1f}x",
                             f"{gflops:.2f}",
                             f"{100 * gflops * 1e9 / peak[threads]:.0f}%"])
                print(f"  {cell} batch {batch} threads {threads} {grammar}: {m['notes_s']:,.0f} notes/s",
                      file=sys.stderr)
    out.append(table(["cell", "hidden", "params", "batch", "threads", "grammar", "tokens a row (median / longest)",
                      "notes/s", "tokens/s", "vs batch 1", "GFLOP/s", "of matmul peak"], rows))
    out.append(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
               f"{args.notes} notes per piece, best of {args.repeat}; grammar masks, top-k/top-p off, "
               "temperature 1. Target: batch 256 >= 30x batch 1.")
    emit_table("\n".join(out), args.output)


if __name__ == "__main__":
    main()
