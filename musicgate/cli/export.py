"""``musicgate export RUN NAME``: ship a trained run as a slim model with its measured numbers."""
from __future__ import annotations

from pathlib import Path

from musicgate.cli.common import out_dir, plain_name


def register(sub) -> None:
    p = sub.add_parser("export", help="slim a run's best checkpoint into a shippable model + models.json entry")
    p.add_argument("run", type=Path, help="a run folder written by 'musicgate train'")
    p.add_argument("name", type=plain_name, help="model name, e.g. folk-lstm (a name, not a path)")
    p.add_argument("-o", "--dest", type=out_dir, default=str(Path(__file__).resolve().parents[1] / "pretrained"),
                   help="folder to write NAME.pt and models.json (default: the package's pretrained/)")
    p.set_defaults(func=_export)


def _export(args) -> int:
    from musicgate.train.export import export_model

    e = export_model(args.run, args.dest, args.name)
    print(f"{args.name}: {e['cell']}, {e['params']:,} parameters, step {e['step']}, validation NLL "
          f"{e['valid_nll_per_note']:.3f} nats/note ({e['valid_nll_per_token']:.3f}/token) -> "
          f"{args.dest / (args.name + '.pt')} ({e['bytes'] / 1e6:.1f} MB)")
    return 0
