"""Training speed of minGRU / minLSTM (log-space parallel scan) against the fused nn.GRU / nn.LSTM.

Forward + backward of one recurrent core (no embedding, no head, no optimiser step) on a random
(batch, T, input) tensor, loss = mean of squared outputs; tokens/s = batch * T / best time.
Cores are parameter-matched: input width = hidden size (as in ``RecurrentLM``, whose embedding
width defaults to the hidden size), hidden chosen so the core has the parameter count closest to
``--params``. One torch thread by default. Best of ``--repeat`` after one warm-up call; the cells
are timed interleaved at each T, so a change of load hits them alike.

Then bf16 at one length: ``torch.autocast(device, dtype=torch.bfloat16)`` around the same call,
and the core and input cast to bf16 outright, beside float32 (the output dtype shows whether
autocast reached the recurrent kernel)::

    nice -n 5 .venv/bin/python benchmarks/mincells.py [--lengths 256,512,1024,2048,4096]
        [--batch 16] [--params 100000] [--threads 1] [--bf16-length 1024] [--device cpu]

Writes ``benchmarks/results/mincells.md`` and ``.json`` (``--out`` to change) with the machine
and the load average; ``--render`` rewrites the markdown from the JSON without timing anything.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, table  # noqa: E402

from musicgate.files import atomic_write_json, atomic_write_text  # noqa: E402
from musicgate.nn.mincells import MIN_CELLS  # noqa: E402
from musicgate.nn.models import count_params, recurrent  # noqa: E402

CELLS = ("gru", "lstm", "mingru", "minlstm")


def build(cell: str, hidden: int) -> torch.nn.Module:
    """A one-layer core whose input width is its hidden size."""
    if cell in MIN_CELLS:
        return MIN_CELLS[cell](hidden, hidden)
    return recurrent(cell, hidden, hidden)


def matched_hidden(cell: str, n_params: int) -> int:
    """Hidden size whose core has the parameter count closest to ``n_params``."""
    size = lambda h: count_params(build(cell, h))  # noqa: E731
    lo, hi = 1, 1
    while size(hi) < n_params:
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if size(mid) < n_params else (lo, mid)
    return lo - 1 if lo > 1 and abs(size(lo - 1) - n_params) <= abs(size(lo) - n_params) else lo


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _step(core: torch.nn.Module, x: torch.Tensor, autocast: bool) -> torch.dtype:
    """One forward + backward; returns the dtype of the core's output."""
    core.zero_grad(set_to_none=True)
    ctx = torch.autocast(x.device.type, dtype=torch.bfloat16) if autocast else _null()
    with ctx:
        out, _ = core(x)
        loss = out.float().square().mean()
    loss.backward()
    return out.dtype


def best_times(runs: dict[str, tuple[torch.nn.Module, torch.Tensor, bool]], repeat: int
               ) -> dict[str, tuple[float, torch.dtype]]:
    """Best seconds of forward + backward per named run, and the output dtype.

    The runs are interleaved (each repeat times every run once), so a change of machine load
    during the measurement hits all of them alike.
    """
    dtypes = {name: _step(*run) for name, run in runs.items()}  # warm-up: oneDNN, allocator
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, (core, x, autocast) in runs.items():
            _sync(x.device)
            t0 = time.perf_counter()
            _step(core, x, autocast)
            _sync(x.device)
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: (best[name], dtypes[name]) for name in runs}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def render(data: dict) -> str:
    """The markdown report of one run, from its JSON record."""
    lengths = sorted({r["T"] for r in data["speed"]})
    cells = list(dict.fromkeys(r["cell"] for r in data["speed"]))
    rate = {(r["cell"], r["T"]): r["tokens_per_s"] for r in data["speed"]}
    first = {r["cell"]: r for r in data["speed"]}
    speed = table(["cell", "hidden", "params"] + [f"T={t}" for t in lengths],
                  [[c, first[c]["hidden"], f"{first[c]['params']:,}",
                    *(rate[c, t] for t in lengths)] for c in cells])
    parts = [
        "# minGRU / minLSTM training speed against the fused GRU / LSTM", "",
        f"Command: `{data['command']}`", "",
        f"{data['machine']}; {data['device']}; torch {data['torch']}, {data['threads']} thread(s); "
        f"CPU bf16 flags: {', '.join(data['bf16_flags']) or 'none'}; load average "
        f"{data['load_average_start'][0]:.2f} at the start, {data['load_average_end'][0]:.2f} at "
        f"the end.", "",
        f"Forward + backward of one recurrent core, batch {data['batch']}, input width = hidden, "
        f"parameter-matched to ~{data['target_params']:,}; tokens/s = batch x T / best of "
        f"{data['repeat']} (cells timed interleaved).", "", speed, ""]
    if "gru" in cells:
        parts += ["Speed relative to the fused GRU at the same T:", "",
                  table(["cell"] + [f"T={t}" for t in lengths],
                        [[c, *(rate[c, t] / rate["gru", t] for t in lengths)] for c in cells]), ""]
    if data["bf16"]:
        steps = data["bf16"][0]["T"]
        tokens = data["batch"] * steps
        parts += [f"bf16 at T = {steps} (autocast: `torch.autocast('{data['device']}', "
                  f"dtype=torch.bfloat16)`; bf16 weights: core and input cast to bf16):", "",
                  table(["cell", "fp32 tokens/s", "autocast bf16 tokens/s", "autocast output",
                         "bf16 weights tokens/s"],
                        [[r["cell"], tokens / r["fp32_s"], tokens / r["autocast_bf16_s"],
                          r["autocast_output_dtype"], tokens / r["bf16_weights_s"]]
                         for r in data["bf16"]]), ""]
    return "\n".join(parts)


def measure(args: argparse.Namespace) -> dict:
    """Time every cell at every length, then bf16 at one length; the JSON record."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    lengths = [int(t) for t in args.lengths.split(",")]
    cells = args.cells.split(",")
    load_start = os.getloadavg()
    hidden = {cell: matched_hidden(cell, args.params) for cell in cells}
    params = {cell: count_params(build(cell, hidden[cell])) for cell in cells}
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    print(f"{machine()}; load average {load_start[0]:.2f}; batch {args.batch}, ~{args.params:,} "
          f"parameters per core: " + ", ".join(f"{c} H={hidden[c]} ({params[c]:,})" for c in cells),
          flush=True)
    cores = {cell: build(cell, hidden[cell]).to(device) for cell in cells}
    records = []
    for steps in lengths:
        runs = {cell: (cores[cell], torch.randn(args.batch, steps, hidden[cell], device=device),
                       False) for cell in cells}
        for cell, (sec, _) in best_times(runs, args.repeat).items():
            rate = args.batch * steps / sec
            records.append(dict(cell=cell, hidden=hidden[cell], params=params[cell], T=steps,
                                seconds=sec, tokens_per_s=rate))
            print(f"  {cell:8s} T={steps:5d}  {sec * 1e3:9.1f} ms  {rate:12,.0f} tokens/s", flush=True)
        del runs
    bf16_records = []
    steps = args.bf16_length
    for cell in cells if steps else ():
        core = build(cell, hidden[cell]).to(device)
        x = torch.randn(args.batch, steps, hidden[cell], device=device)
        half = build(cell, hidden[cell]).to(device, torch.bfloat16)
        times = best_times({"fp32": (core, x, False), "autocast": (core, x, True),
                            "bf16": (half, x.to(torch.bfloat16), False)}, args.repeat)
        (fp32, _), (auto, auto_dtype), (pure, _) = times["fp32"], times["autocast"], times["bf16"]
        bf16_records.append(dict(cell=cell, T=steps, fp32_s=fp32, autocast_bf16_s=auto,
                                 autocast_output_dtype=str(auto_dtype).replace("torch.", ""),
                                 bf16_weights_s=pure))
        print(f"  bf16 {cell:8s} T={steps}: fp32 {fp32 * 1e3:.1f} ms, autocast {auto * 1e3:.1f} ms "
              f"(output {auto_dtype}), bf16 weights {pure * 1e3:.1f} ms", flush=True)
    command = ("nice -n 5 .venv/bin/python benchmarks/mincells.py " + " ".join(sys.argv[1:])).strip()
    return dict(machine=machine(), device=device.type, torch=torch.__version__,
                threads=torch.get_num_threads(),
                bf16_flags=[f for f in ("avx512_bf16", "amx_bf16") if f" {f}" in flags],
                load_average_start=load_start, load_average_end=os.getloadavg(),
                batch=args.batch, target_params=args.params, repeat=args.repeat, command=command,
                speed=records, bf16=bf16_records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="256,512,1024,2048,4096")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--params", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16-length", type=int, default=1024, help="0: skip the bf16 timings")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mincells")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite OUT.md from OUT.json (no timing)")
    args = ap.parse_args()
    md, js = args.out.with_suffix(".md"), args.out.with_suffix(".json")
    data = json.loads(js.read_text()) if args.render else measure(args)
    text = render(data)
    print("\n" + text)
    atomic_write_text(md, text)
    if not args.render:
        atomic_write_json(js, data)
    print(f"wrote {md}" + ("" if args.render else f" and {js}"))


if __name__ == "__main__":
    main()
