"""``musicgate export RUN NAME``: ship a trained run as a slim model with its measured numbers."""
from __future__ import annotations

from pathlib import Path

from musicgate.cli.common import command, out_dir, output_alias, plain_name


def register(sub) -> None:
    p = command(sub, "export", "ship a run's best checkpoint as a slim model with its numbers",
                "musicgate export runs/folk-lstm folk-lstm",
                "musicgate export runs/folk-lstm my-lstm -o models/",
                description="Writes NAME.pt (weights, tokenizer and settings, no optimizer state) and "
                "adds NAME with its measured\nvalidation NLL to models.json in the output folder; "
                "'musicgate generate --model NAME' then finds it.")
    p.add_argument("run", type=Path, help="a run folder written by 'musicgate train'")
    p.add_argument("name", type=plain_name, help="model name, e.g. folk-lstm (a name, not a path)")
    p.add_argument("-o", "--output", type=out_dir, default=str(Path(__file__).resolve().parents[1] / "pretrained"),
                   help="folder to write NAME.pt and models.json (default: the package's pretrained/)")
    output_alias(p, "--dest", type=out_dir)
    p.set_defaults(func=_export)


def _export(args) -> int:
    from musicgate.train.export import export_model

    e = export_model(args.run, args.output, args.name)
    print(f"{args.name}: {e['cell']}, {e['params']:,} parameters, step {e['step']}, validation NLL "
          f"{e['valid_nll_per_note']:.3f} nats/note ({e['valid_nll_per_token']:.3f}/token) -> "
          f"{args.output / (args.name + '.pt')} ({e['bytes'] / 1e6:.1f} MB)")
    return 0
