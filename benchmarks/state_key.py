"""Does the model's state still hold the key: reading real medleys, and reading its own samples?

    python benchmarks/state_key.py [--model NAME_OR_RUN ...] [-o benchmarks/results/state-key.md]

The retention study measures the *music* a model writes. This looks at its *state* (the last
layer's output, what the head reads), with a linear probe for the stream's key (24 major and minor
keys), per model:

1. **Reading real medleys** (teacher-forced): 96 medley streams of 4,096 tokens from the test split
   (``musicgate.data.medley``, major and minor, seed 5), read window by window (256 tokens) with
   the state carried, as in training. The probe is fitted on the states of 64 streams (every 8th
   token) and scored on the other 32, by position.
2. **Reading its own samples**: the same probe (refitted on all 96 real streams) reads the states of
   48 sequences the model samples (24 keys x 2, 1,100 notes each, min-p 0.05, exact length, seed 3),
   at notes 64, 256 and 1,024; beside it, whether the last 32 notes written there are in the asked key
   (tonic and mode, as the retention study's windowed agreement measures it).

A state that holds the key while reading real music and loses it while reading its own samples
has the memory but drifts with what it writes (exposure bias), which more teacher-forced training
does not fix.
"""
from __future__ import annotations

import argparse
import sys
import platform
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table  # noqa: E402

KEYS24 = [f"{t} {m}" for m in ("major", "minor") for t in "C C# D Eb E F F# G Ab A Bb B".split()]
SPANS = ((0, 256), (256, 1024), (1024, 2048), (2048, 4096))
NOTES = (64, 256, 1024)
CELLS = ("rnn", "lstm", "gru")


def _states(model, ids: np.ndarray, window: int = 256) -> torch.Tensor:
    """(B, T, hidden) last-layer outputs of ``ids`` (B, T), read window by window with the state carried."""
    feats: list[torch.Tensor] = []
    hook = model.head.register_forward_hook(lambda m, i, o: feats.append(i[0].detach()))
    state = None
    try:
        with torch.no_grad():
            for s in range(0, ids.shape[1], window):
                _, state = model(torch.as_tensor(ids[:, s:s + window]), state)
    finally:
        hook.remove()
    return torch.cat(feats, 1)


def _fit(x: torch.Tensor, y: np.ndarray, steps: int = 300):
    """A linear softmax probe (standardised inputs) for the 24 keys; returns predict(x) -> classes."""
    torch.manual_seed(0)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    lin = torch.nn.Linear(x.shape[-1], 24)
    opt = torch.optim.Adam(lin.parameters(), lr=0.01, weight_decay=1e-4)
    target = torch.as_tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin((x - mu) / sd), target).backward()
        opt.step()
    return lambda z: lin((z - mu) / sd).argmax(-1).numpy()


def measure(name: str, streams: np.ndarray, keys: np.ndarray, tok) -> dict:
    """One model's probe accuracies (see the module docstring)."""
    from musicgate.analysis.musicality import key_exact_match
    from musicgate.generation.sample import sample
    from musicgate.music.keys import parse_key
    from musicgate.nn.hub import load_model

    model, _, _ = load_model(name)
    model.eval()
    pos = np.arange(8, streams.shape[1], 8)
    h = _states(model, streams)[:, pos]                                   # (N, P, H)
    train = np.arange(len(streams)) < 64
    predict = _fit(h[train].reshape(-1, h.shape[-1]), np.repeat(keys[train], len(pos)))
    hit = predict(h[~train]) == keys[~train][:, None]                     # (32, P)
    real = {f"{lo}-{hi}": float(hit[:, (pos >= lo) & (pos < hi)].mean()) for lo, hi in SPANS}
    predict = _fit(h.reshape(-1, h.shape[-1]), np.repeat(keys, len(pos)))
    asked = [parse_key(KEYS24[i % 24]) for i in range(48)]
    ids = sample(model, tok, keys=asked, length=max(NOTES) + 76, exact=True, min_p=0.05, seed=3)
    own = {n: [] for n in NOTES}
    music = {n: [] for n in NOTES}
    for x, key in zip(ids, asked):
        x = np.asarray(x, np.int64)
        hs = _states(model, x[None])[0]
        notes = np.flatnonzero(tok.pitch_of[x] >= 0)
        label = (12 if key.mode == "minor" else 0) + key.tonic
        for n in NOTES:
            t = notes[n - 1]
            own[n].append(predict(hs[t][None])[0] == label)
            written = tok.decode(x[:t + 2])
            music[n].append(key_exact_match(written.select(np.arange(len(written)) >= len(written) - 32), key))
    return {"model": name, "cell": model.cell, "real": real,
            "own": {n: float(np.mean(v)) for n, v in own.items()},
            "music": {n: float(np.nanmean(v)) for n, v in music.items()}}


def table(rows: list[dict]) -> str:
    head = ("| model | " + " | ".join(f"real medleys, tokens {lo:,}-{hi:,}" for lo, hi in SPANS)
            + " | " + " | ".join(f"own samples @{n:,}: state | music" for n in NOTES) + " |")
    lines = [head, "|---|" + "---:|" * (len(SPANS) + 2 * len(NOTES))]
    for r in rows:
        cells = [f"{r['real'][f'{lo}-{hi}']:.2f}" for lo, hi in SPANS]
        cells += [f"{r['own'][n]:.2f} | {r['music'][n]:.2f}" for n in NOTES]
        lines.append(f"| {r['model']} ({r['cell']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="shipped name or run folder (repeat; default: the "
                        "shipped models, the medley fine-tunes and their second phases, clean and noisy)")
    parser.add_argument("--data", default="datasets/folk", help="prepared folk corpus")
    parser.add_argument("-o", "--output", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    from musicgate.data.medley import MedleyStreams
    from musicgate.data.prepared import open_dataset

    torch.set_num_threads(1)
    models = args.model or [f"folk-{c}" for c in CELLS] + \
        [f"runs/folk-{c}-{phase}" for phase in ("medley", "medley2", "medley-noise") for c in CELLS]
    data = open_dataset(args.data)
    tok = data.tokenizer
    ms = MedleyStreams(data, np.asarray(data.splits["test"]), length=4097, modes=("major", "minor"), seed=5,
                       split="test")
    streams, _, _ = ms.build(0, np.arange(96))
    keys = streams[:, 1] - tok.key_base                                   # mode * 12 + tonic (major 0, minor 1)
    start = time.perf_counter()
    rows = []
    for name in models:
        rows.append(measure(name, streams[:, :-1], keys, tok))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"Linear probe for the key in the model's state (`python benchmarks/state_key.py`; "
            f"{platform.processor() or platform.machine()}, one thread, {time.perf_counter() - start:.0f} s). "
            "Share of states the probe reads as the stream's key (24 major and minor keys; chance 0.04): "
            "reading 32 held-out real medleys of 4,096 tokens (teacher-forced), by token; reading the model's "
            "own 48 sampled sequences (min-p 0.05), at notes 64, 256, 1,024, beside the share of those "
            "places where the last 32 notes written are in the asked key.\n\n" + table(rows) + "\n")
    emit_table(text, args.output)


if __name__ == "__main__":
    main()
