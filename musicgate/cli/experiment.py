"""``musicgate experiment``: the key-retention experiment and the key-memory probe."""
from __future__ import annotations

import sys
from pathlib import Path

from musicgate.cli.common import (command, given, int_list, out_dir, positive_float, positive_int, seed,
                                  set_threads)


def register(sub) -> None:
    p = command(sub, "experiment", "key-retention experiment and key-memory probe",
                "musicgate experiment retention", "musicgate experiment probe --T 10,100 --cells lstm,gru",
                description="Reproducible experiments on how long each recurrent cell keeps the key.")
    exp = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)

    r = command(exp, "retention", "generate in every key with each model; measure key retention per position",
                "musicgate experiment retention",
                "musicgate experiment retention --config configs/retention.yaml --set n_per_key=8",
                "musicgate experiment retention --set models.lstm=runs/folk-lstm/best.pt",
                description="For each model and each of the 24 keys, samples sequences far beyond the training "
                "windows and\nmeasures, per position, the in-signature rate, windowed key agreement and MIREX "
                "score (95%\nbootstrap intervals) and the time to drift, against the same measures on held-out "
                "real tunes.\nWrites OUTPUT/retention-<timestamp>/ with report.md (OUTPUT: -o, else the "
                "config's output, generated).")
    r.add_argument("--config", type=Path, help="YAML config (default: the built-in defaults, the same as "
                   "configs/retention.yaml)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set n_per_key=8 or --set models.lstm=runs/x/best.pt")
    r.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    r.add_argument("-o", "--output", type=out_dir, default=None,
                   help="output root (default: the config's output, generated); the same as --set output=DIR")
    r.set_defaults(func=retention_command)

    q = command(exp, "probe", "key-memory probe: recall of a key token across T neutral steps, per cell",
                "musicgate experiment probe",
                "musicgate experiment probe --T 10,100,1000 --cells lstm,gru --steps 500 -o generated/",
                description="Trains a small parameter-matched model per cell and gap T on KEY, T rests, in-key "
                "notes; scores\nthe in-key probability mass at the first note (chance 7/12). Writes "
                "OUTPUT/probe-<timestamp>/\nwith report.md and probe.png.")
    q.add_argument("--T", dest="Ts", type=int_list(0), default="10,30,100,300,1000", help="gap lengths, comma-separated (default 10,30,100,300,1000)")
    q.add_argument("--cells", default="rnn,lstm,gru", help="cells, comma-separated (default rnn,lstm,gru); "
                   "cell:init (lstm:chrono) runs that cell with that init only")
    q.add_argument("--steps", type=positive_int, help="Adam steps per run (default 300)")
    q.add_argument("--hidden", type=positive_int, help="LSTM units; the other cells are matched to its size (default 32)")
    q.add_argument("--lr", type=positive_float, help="Adam learning rate for every cell (default: per cell, see probe.DEFAULT_LR)")
    q.add_argument("--gap", choices=("rests", "chromatic"), help="key-neutral gap (default rests)")
    q.add_argument("--seed", type=seed, help="one seed (default 0)")
    q.add_argument("--seeds", help="several seeds: a count (3 = 0,1,2) or a comma list; the table shows the "
                   "mean and a 95%% t-interval over them")
    q.add_argument("--init", default="default", help="gate initialisations, comma list of default, forget1, "
                   "chrono (default: default)")
    q.add_argument("--init-t-max", type=positive_float, help="chrono's longest time scale in steps "
                   "(default: the sequence length)")
    q.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (default 1: small recurrent models run fastest single-threaded)")
    q.add_argument("-o", "--output", type=out_dir, default="generated", help="output root (default generated)")
    q.set_defaults(func=probe_command)


def retention_command(args) -> int:
    from musicgate.experiments.retention_run import run_retention

    set_threads(args.threads)
    quiet = getattr(args, "quiet", False)
    overrides = [*args.overrides, *([f"output={args.output}"] if args.output is not None else [])]
    outdir = run_retention(args.config if args.config else {}, overrides=overrides, quiet=quiet,
                           log=None if quiet else (lambda line: print(line, file=sys.stderr)))
    print((outdir / "report.md").read_text())
    print(f"wrote {outdir}")
    return 0


def probe_command(args) -> int:
    from musicgate.config import build_config
    from musicgate.errors import ConfigError
    from musicgate.experiments.memory import parse_seeds
    from musicgate.experiments.probe import ProbeConfig, run_probe, write_probe_report

    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    inits = [c.strip() for c in args.init.split(",") if c.strip()]
    if args.seed is not None and args.seeds is not None:
        raise ConfigError("give --seed (one seed) or --seeds (several), not both")
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    config = build_config(ProbeConfig, given(steps=args.steps, lstm_hidden=args.hidden, gap=args.gap, seed=args.seed,
                                             lr=args.lr, init_t_max=args.init_t_max), what="probe setting")
    set_threads(args.threads)
    quiet = getattr(args, "quiet", False)

    def log(r) -> None:
        if not quiet:
            print(f"{r.cell:5s} {r.init:7s} seed {r.seed} T={r.T:5d} score {r.score:.3f} [{r.lo:.3f}, {r.hi:.3f}] local {r.local:.3f} "
                  f"{'recalled' if r.recalled else 'chance'} ({r.seconds:.0f} s)", file=sys.stderr, flush=True)

    results = run_probe(args.Ts, cells, config, seeds=seeds, inits=inits or None,
                        progress=not quiet and sys.stderr.isatty(), log=log)
    outdir = write_probe_report(results, config, args.output)
    print((outdir / "report.md").read_text())
    print(f"wrote {outdir}")
    return 0
