"""``musicgate train``: train a language model from a YAML config (also under torchrun)."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from musicgate.cli.common import command, device, out_dir, positive_int
from musicgate.errors import ConfigError


def register(sub) -> None:
    p = command(
        sub, "train", "train a recurrent language model from a YAML config",
        "musicgate train configs/folk-lstm.yaml -o runs/folk-lstm",
        "musicgate train configs/tiny.yaml --set model.hidden=512 --set train.steps=2000",
        "musicgate train --resume runs/folk-lstm",
        "torchrun --nproc-per-node 2 -m musicgate train configs/folk-lstm.yaml",
        description="Trains a RecurrentLM on a prepared dataset ('musicgate data prepare' first). Writes "
        "config.yaml, metrics.csv,\nlast.pt, best.pt and loss.png into the run folder; a bar with tokens/s "
        "on a terminal, a line per\nevaluation otherwise. Runs unchanged under torchrun "
        "(DistributedDataParallel).")
    p.add_argument("config", nargs="?", type=Path,
                   help="YAML config (see configs/); optional with --resume (the run's config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.hidden=512 (repeatable)")
    p.add_argument("-o", "--output", dest="run_dir", type=out_dir,
                   help="run folder (default runs/<config name>-<time>)")
    p.add_argument("--run-dir", dest="run_dir", type=out_dir, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # the former name of -o, kept for old scripts
    p.add_argument("--resume", type=Path, metavar="RUN",
                   help="continue the run in folder RUN from its last.pt (after Ctrl-C, kill -9, ...)")
    p.add_argument("--device", type=device, help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps "
                   "(default: the config's train.device)")
    p.add_argument("--stop-after", type=positive_int, metavar="N",
                   help="stop cleanly after N steps of this call, saving last.pt (time-sliced jobs; "
                   "default: run to the config's train.steps)")
    p.set_defaults(func=train_command)


def train_command(args) -> int:
    from musicgate.train.config import load_config
    from musicgate.train.loop import train

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"train.device={args.device}")
    if args.resume is not None:
        run_dir = args.resume
        if args.run_dir is not None and Path(args.run_dir).resolve() != Path(run_dir).resolve():
            raise ConfigError(f"--resume {run_dir} and -o {args.run_dir} name different folders; give one")
        source = args.config or Path(run_dir) / "config.yaml"
        if not Path(source).exists():
            raise ConfigError(f"{source}: no config to resume with; give CONFIG.yaml as well")
    else:
        if args.config is None:
            raise ConfigError("give a CONFIG.yaml (see configs/), or --resume RUN to continue a run")
        source = args.config
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = args.run_dir or Path("runs") / f"{Path(source).stem}-{stamp}"
    config = load_config(source, overrides)
    quiet = bool(getattr(args, "quiet", False))
    if int(os.environ.get("RANK", "0")) == 0:  # one process per run folder (torchrun: rank 0 holds it)
        from musicgate.files import check_writable_dir, pid_lock

        check_writable_dir(run_dir, what="run folder")
        with pid_lock(Path(run_dir) / ".train.lock", what=f"run {run_dir}"):
            result = train(config, run_dir=run_dir, resume=args.resume is not None, quiet=quiet,
                           stop_after=args.stop_after)
    else:
        result = train(config, run_dir=run_dir, resume=args.resume is not None, quiet=quiet,
                       stop_after=args.stop_after)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.4f}"
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    print(f"run {result.run_dir}: {result.stopped} at step {result.step}; train loss {last}, "
          f"best validation loss {best}; {result.tokens_per_s:,.0f} tokens/s")
    if result.stopped == "interrupted":
        print(f"continue with: musicgate train --resume {result.run_dir}")
        return 130
    return 0
