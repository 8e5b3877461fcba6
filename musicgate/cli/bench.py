"""``musicgate bench``: results checked against published ones (polyphonic NLL, memory tasks)."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from musicgate.cli.common import command, given, int_list, out_file, positive_float, positive_int, seed, set_threads
from musicgate.errors import ConfigError
from musicgate.music.rolls import DATASETS
from musicgate.nn.cells import cell_names


def register(sub) -> None:
    p = command(sub, "bench", "benchmarks checked against published results",
                "musicgate bench polyphonic --dataset jsb --cell lstm",
                "musicgate bench memory --task adding --T 50,100 --steps 500",
                "musicgate bench memory --preset bai --seeds 3 --steps 400",
                description="polyphonic: test NLL per frame on the piano-roll datasets; memory: the adding "
                "problem and copy memory.")
    bench = p.add_subparsers(dest="bench", metavar="BENCH", required=True)

    poly = command(bench, "polyphonic", "test NLL per frame on a piano-roll benchmark "
                   "(Boulanger-Lewandowski 2012; compared with Chung 2014, Bai 2018)",
                   "musicgate bench polyphonic --dataset jsb",
                   "musicgate bench polyphonic --dataset nottingham --cell gru --epochs 5 -o nottingham.json",
                   description="Trains one model per cell with the tuned config shipped in the package "
                   "(musicgate/experiments/presets/\npoly-DATASET-CELL.yaml), stops on validation NLL and "
                   "prints a table beside the published numbers.")
    poly.add_argument("--dataset", required=True, choices=list(DATASETS),
                      help="piano-roll dataset")
    poly.add_argument("--cell", default="rnn,lstm,gru", help="a cell or a comma list")
    poly.add_argument("--config", type=Path, default=None,
                      help="YAML of PolyConfig keys (default: the shipped poly-DATASET-CELL preset)")
    poly.add_argument("--data-dir", type=Path, default=None,
                      help="folder of the four .mat files (default ../shared/polyphonic)")
    poly.add_argument("--epochs", type=positive_int, default=None, help="at most this many epochs "
                      "(default: the config's max_epochs)")
    poly.add_argument("--threads", type=positive_int, default=1,
                      help="torch CPU threads (1 is fastest for these small models on a busy machine)")
    poly.add_argument("-o", "--output", type=out_file, default=None,
                      help="write the results: .json (with per-epoch history) or markdown")
    poly.set_defaults(func=polyphonic)

    mem = command(bench, "memory", "adding problem and copy memory vs T, per cell, with the trivial baselines",
                  "musicgate bench memory",
                  "musicgate bench memory --task copy --T 50,200 --cell lstm,gru --plot memory.png -o memory.md",
                  "musicgate bench memory --preset bai --cell lstm --init forget1,chrono --seeds 3",
                  description="Trains a parameter-matched model per task, length T, cell, gate initialisation "
                  "and seed, and prints\nthe mean final loss over seeds (95% t-interval) beside the loss of "
                  "the trivial baseline.\n--preset bai: the sizes, optimisers and lengths of Bai et al. 2018 "
                  "(adding T=600, copy T=1000).")
    mem.add_argument("--preset", default=None, help="shipped settings per task (bai: Bai et al. 2018); "
                     "other options override them")
    mem.add_argument("--task", default=None, help="adding, copy or both (default both)")
    mem.add_argument("--T", type=int_list(2), default=None, help="comma list of sequence lengths (default "
                     "50,100,200,400,1000, or the preset's)")
    mem.add_argument("--cell", default="rnn,lstm,gru", help="comma list of cells; cell:init (lstm:chrono) runs "
                     "that cell with that init only")
    mem.add_argument("--steps", type=positive_int, default=None,
                     help="training steps per run (default 300, MemoryConfig.steps)")
    mem.add_argument("--until-solved", action="store_true",
                     help="stop a run before --steps once its mean training loss over 50 steps is under 5%% "
                          "of the baseline; the table gives the steps each seed took")
    mem.add_argument("--hidden", type=positive_int, default=None,
                     help="LSTM units; the others get the same parameter count (default 32, MemoryConfig.lstm_hidden)")
    mem.add_argument("--batch-size", type=positive_int, default=None,
                     help="sequences per step (default 16, MemoryConfig.batch_size)")
    mem.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (default 0.01, MemoryConfig.lr)")
    mem.add_argument("--seed", type=seed, default=None, help="one seed (default 0, MemoryConfig.seed)")
    mem.add_argument("--seeds", default=None, help="several seeds: a count (3 = 0,1,2) or a comma list")
    mem.add_argument("--init", default=None, help="gate initialisations, comma list of default, forget1, "
                     "chrono (default: default)")
    mem.add_argument("--init-t-max", type=positive_float, default=None,
                     help="chrono's longest time scale in steps (default: the sequence length)")
    mem.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    mem.add_argument("--plot", type=out_file, default=None, help="write a PNG of final loss vs T")
    mem.add_argument("--curves", type=out_file, default=None,
                     help="write a PNG of every run's training loss vs step (how many steps each needed)")
    mem.add_argument("-o", "--output", type=out_file, default=None,
                     help="write the results: .json (with the markdown table beside it, .md) or markdown")
    mem.set_defaults(func=memory)


def _list(text: str, valid: tuple[str, ...], what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in valid]
    if bad or not items:
        raise ConfigError(f"{what} {text!r}: use one or more of {', '.join(valid)}, comma-separated")
    return items


def _command() -> str:
    return "musicgate " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "musicgate"


def polyphonic(args) -> int:
    from musicgate.files import atomic_write_json, atomic_write_text
    from musicgate.experiments.polyphonic import poly_config, results_table, train_polyphonic
    from musicgate.experiments.presets import poly_preset

    cells = _list(args.cell, cell_names(), "--cell")
    set_threads(args.threads)
    results = []
    for cell in cells:
        source = args.config or poly_preset(args.dataset, cell)
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
    from dataclasses import asdict

    from musicgate.config import build_config
    from musicgate.files import atomic_write_text
    from musicgate.nn.init import SCHEMES
    from musicgate.experiments.memory import (TASKS, MemoryConfig, memory_preset, memory_sweep, memory_table,
                                              parse_seeds, plot_memory, plot_memory_curves, result_dicts,
                                              summarise)

    preset = memory_preset(args.preset) if args.preset else None
    tasks = _list(args.task or ",".join(preset["tasks"] if preset else TASKS), TASKS, "--task")
    cells = [c.strip() for c in args.cell.split(",") if c.strip()]
    inits = _list(args.init or "default", SCHEMES, "--init")
    Ts = args.T
    if args.seed is not None and args.seeds is not None:
        raise ConfigError("give --seed (one seed) or --seeds (several), not both")
    seeds = parse_seeds(args.seeds) if args.seeds is not None else [args.seed or 0]
    overrides = given(steps=args.steps, lstm_hidden=args.hidden, batch_size=args.batch_size, lr=args.lr,
                      init_t_max=args.init_t_max, until_solved=args.until_solved or None)
    if args.hidden is not None:
        overrides["params"] = None   # --hidden sizes the LSTM; the preset's parameter count no longer applies
    configs = {task: build_config(MemoryConfig, {**(asdict(preset["tasks"][task][1]) if preset and task in
                                                    preset["tasks"] else {}), **overrides}, what="memory setting")
               for task in tasks}
    set_threads(args.threads)
    log = None if args.quiet else (lambda r: print(
        f"{r.task} T={r.T} {r.cell} {r.init} seed {r.seed}: loss {r.loss:.4f} (baseline {r.baseline:.4f}, "
        f"{r.steps:,} steps, {r.seconds:.0f} s)", file=sys.stderr, flush=True))
    results = []
    for task in tasks:
        task_Ts = Ts or ([preset["tasks"][task][0]] if preset and task in preset["tasks"] else
                         [50, 100, 200, 400, 1000])
        results += memory_sweep([task], task_Ts, cells, configs[task], seeds=seeds, inits=inits,
                                progress=not args.quiet and sys.stderr.isatty(), log=log)
    published = {task: (T, preset["published"].get(task, {})) for task, (T, _) in preset["tasks"].items()} \
        if preset else None
    table = memory_table(results, published)
    print(table)
    if args.plot:
        print(f"wrote {plot_memory(results, args.plot)}")
    if args.curves:
        print(f"wrote {plot_memory_curves(results, args.curves)}")
    if args.output:
        text = f"{table}\n\nCommand: `{_command()}`\n"
        if args.output.suffix == ".json":
            atomic_write_text(args.output, json.dumps(
                {"command": _command(), "preset": args.preset, "seeds": seeds, "inits": inits,
                 "configs": {t: asdict(c) for t, c in configs.items()},
                 "published": preset["published"] if preset else None,
                 "summary": [asdict(r) for r in summarise(results)],
                 "results": result_dicts(results)}, indent=1) + "\n")
            print(f"wrote {args.output}")
            atomic_write_text(args.output.with_suffix(".md"), text)
            print(f"wrote {args.output.with_suffix('.md')}")
        else:
            atomic_write_text(args.output, text)
            print(f"wrote {args.output}")
    return 0
