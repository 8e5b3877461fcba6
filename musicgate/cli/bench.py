"""``musicgate bench``: results checked against published ones (polyphonic NLL, memory tasks)."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from musicgate.cli.common import out_file, positive_float, positive_int, seed
from musicgate.errors import ConfigError
from musicgate.nn.cells import cell_names

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks checked against published results")
    bench = p.add_subparsers(dest="bench", metavar="BENCH", required=True)

    poly = bench.add_parser("polyphonic", help="test NLL per frame on a piano-roll benchmark "
                            "(Boulanger-Lewandowski 2012; compared with Chung 2014, Bai 2018)")
    poly.add_argument("--dataset", required=True, choices=["jsb", "nottingham", "musedata", "pianomidi"])
    poly.add_argument("--cell", default="rnn,lstm,gru",
                      help="rnn, lstm, gru or a comma list (default: all three)")
    poly.add_argument("--config", type=Path, default=None,
                      help="YAML of PolyConfig keys (default: configs/poly-DATASET-CELL.yaml)")
    poly.add_argument("--data-dir", type=Path, default=None,
                      help="folder of the four .mat files (default ../shared/polyphonic)")
    poly.add_argument("--epochs", type=positive_int, default=None, help="at most this many epochs")
    poly.add_argument("--threads", type=positive_int, default=1,
                      help="torch CPU threads (default 1: fastest for these small models on a busy machine)")
    poly.add_argument("-o", "--output", type=out_file, default=None,
                      help="write the results: .json (with per-epoch history) or markdown")
    poly.set_defaults(func=polyphonic)

    mem = bench.add_parser("memory", help="adding problem and copy memory vs T, per cell, with "
                           "the trivial baselines")
    mem.add_argument("--task", default="adding,copy", help="adding, copy or both (default)")
    mem.add_argument("--T", default="50,100,200,400,1000", help="comma list of sequence lengths")
    mem.add_argument("--cell", default="rnn,lstm,gru", help="comma list of cells (default: all)")
    mem.add_argument("--steps", type=positive_int, default=None, help="training steps per run")
    mem.add_argument("--hidden", type=positive_int, default=None,
                     help="LSTM units; the others get the same parameter count")
    mem.add_argument("--batch-size", type=positive_int, default=None)
    mem.add_argument("--lr", type=positive_float, default=None)
    mem.add_argument("--seed", type=seed, default=None)
    mem.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    mem.add_argument("--plot", type=out_file, default=None, help="write a PNG of final loss vs T")
    mem.add_argument("-o", "--output", type=out_file, default=None,
                     help="write the results: .json or markdown")
    mem.set_defaults(func=memory)


def _list(text: str, valid: tuple[str, ...], what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in valid]
    if bad or not items:
        raise ConfigError(f"{what} {text!r}: use one or more of {', '.join(valid)}, comma-separated")
    return items


def _threads(n: int) -> None:
    import torch

    if n < 1:
        raise ConfigError(f"--threads must be >= 1, got {n}")
    torch.set_num_threads(n)


def _command() -> str:
    return "musicgate " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "musicgate"


def _default_config(dataset: str, cell: str) -> Path | None:
    for folder in (Path("configs"), REPO_CONFIGS):
        path = folder / f"poly-{dataset}-{cell}.yaml"
        if path.is_file():
            return path
    return None


def polyphonic(args) -> int:
    from musicgate.files import atomic_write_json, atomic_write_text
    from musicgate.experiments.polyphonic import poly_config, results_table, train_polyphonic

    cells = _list(args.cell, cell_names(), "--cell")
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {args.epochs}")
    _threads(args.threads)
    results = []
    for cell in cells:
        source = args.config or _default_config(args.dataset, cell)
        config = poly_config(source, dataset=args.dataset, cell=cell, max_epochs=args.epochs)
        log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        print(f"{args.dataset}/{cell}: config {source or 'defaults'}", file=sys.stderr)
        results.append(train_polyphonic(config, data_dir=args.data_dir,
                                        progress=not args.quiet and sys.stderr.isatty(), log=log))
    table = results_table(results)
    print(table)
    if args.output:
        if args.output.suffix == ".json":
            atomic_write_json(args.output, {"command": _command(),
                                            "results": [r.to_dict() for r in results]})
        else:
            atomic_write_text(args.output, f"{table}\n\nCommand: `{_command()}`\n")
        print(f"wrote {args.output}")
    return 0


def memory(args) -> int:
    from dataclasses import replace

    from musicgate.files import atomic_write_text
    from musicgate.experiments.memory import TASKS, MemoryConfig, memory_sweep, memory_table, plot_memory, result_dicts

    tasks = _list(args.task, TASKS, "--task")
    cells = _list(args.cell, cell_names(), "--cell")
    try:
        Ts = [int(t) for t in args.T.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--T {args.T!r}: give comma-separated integers such as 50,100,200") from None
    if not Ts or min(Ts) < 2:
        raise ConfigError(f"--T {args.T!r}: every length must be >= 2")
    overrides = {k: v for k, v in dict(steps=args.steps, lstm_hidden=args.hidden,
                                      batch_size=args.batch_size, lr=args.lr, seed=args.seed).items()
                 if v is not None}
    for key in ("steps", "lstm_hidden", "batch_size"):
        if key in overrides and overrides[key] < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be >= 1, got {overrides[key]}")
    config = replace(MemoryConfig(), **overrides)
    _threads(args.threads)
    log = None if args.quiet else (lambda r: print(
        f"{r.task} T={r.T} {r.cell}: loss {r.loss:.4f} (baseline {r.baseline:.4f}, {r.seconds:.0f} s)",
        file=sys.stderr, flush=True))
    results = memory_sweep(tasks, Ts, cells, config, progress=not args.quiet and sys.stderr.isatty(),
                           log=log)
    table = memory_table(results)
    print(table)
    if args.plot:
        print(f"wrote {plot_memory(results, args.plot)}")
    if args.output:
        if args.output.suffix == ".json":
            atomic_write_text(args.output, json.dumps(
                {"command": _command(), "config": vars(config), "results": result_dicts(results)},
                indent=1) + "\n")
        else:
            atomic_write_text(args.output, f"{table}\n\nCommand: `{_command()}`\n")
        print(f"wrote {args.output}")
    return 0
