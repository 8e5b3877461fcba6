"""Whole-tune training batches: packed (what the loop did before) against padded (what it does now).

A batch of 32 whole tunes (60-320 tokens, padded to the longest) through a shipped-size 2-layer
model, forward and backward, one torch thread. Packing makes PyTorch's CPU RNNs run step by step;
padding at the end changes nothing at the real tokens (tests/test_train.py checks the loss), so the
training loop packs only when it must carry a state on.

    python benchmarks/packing.py [--steps 3]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from musicgate.nn.models import RecurrentLM, hidden_for_params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per row (default 3)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lengths = torch.randint(60, 321, (32,))
    x = torch.randint(1, 120, (32, int(lengths.max())))
    print(f"batch 32 tunes, {int(lengths.sum()):,} real tokens, padded to {x.shape[1]}; 1 torch thread; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| cell | params | packed tokens/s | padded tokens/s | speed-up |\n|---|---:|---:|---:|---:|")
    for cell in ("rnn", "lstm", "gru"):
        hidden = hidden_for_params(cell, 400_000, vocab_size=120, layers=2)
        net = RecurrentLM(vocab_size=120, cell=cell, hidden=hidden, layers=2, dropout=0.1)
        rates = []
        for lens in (lengths, None):
            logits, _ = net(x, lengths=lens)  # warm-up
            start = time.perf_counter()
            for _ in range(args.steps):
                logits, _ = net(x, lengths=lens)
                logits.sum().backward()
            rates.append(int(lengths.sum()) * args.steps / (time.perf_counter() - start))
        n = sum(p.numel() for p in net.parameters())
        print(f"| {cell} | {n:,} | {rates[0]:,.0f} | {rates[1]:,.0f} | {rates[1] / rates[0]:.1f}x |")


if __name__ == "__main__":
    main()
