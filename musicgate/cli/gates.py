"""``musicgate gates``: what the gates of trained models do on one melody, as pictures.

Parsing only: the work is :func:`musicgate.teach.gates.gates_report`.
"""
from __future__ import annotations

from pathlib import Path

from musicgate.cli.common import command, out_dir


def register(sub) -> None:
    p = command(sub, "gates", "gate pictures, memory half-life and saturation on one melody",
                "musicgate gates --model folk-lstm --melody tune.mid",
                "musicgate gates --model folk-rnn --model folk-lstm --model folk-gru --melody tune.mid -o gates/",
                description="Give --model once per model to compare cells. Writes gates_MODEL.png per model, "
                "half_life.png,\nsaturation.png and gates.json (the numbers) into the output folder.")
    p.add_argument("--model", action="append", required=True, metavar="PATH_OR_NAME",
                   help="a shipped model name (folk-lstm), a checkpoint file or a run folder (repeat to compare cells)")
    p.add_argument("--melody", type=Path, required=True, help="a MIDI file (its top line is used)")
    p.add_argument("-o", "--output", type=out_dir, default="generated/gates",
                   help="folder for the PNGs and gates.json")
    p.add_argument("--max-steps", type=int, default=256, help="tokens traced (at least 4)")
    p.add_argument("--layer", type=int, default=-1, help="layer shown (-1: the last)")
    p.set_defaults(func=gates)


def gates(args) -> int:
    from musicgate.teach.gates import gates_report

    result = gates_report(args.model, args.melody, args.output, max_steps=args.max_steps, layer=args.layer)
    for label, info in result["cells"].items():
        half = info["median_half_life"]
        half_text = "no gates" if half is None else f"median half-life {half:.1f} steps"
        sat = ", ".join(f"{g.replace('_gate', '')} {s['low'] + s['high']:.0%} saturated"
                        for g, s in info["saturation"].items())
        print(f"{label} ({info['cell']}, {info['steps']} steps): {half_text}" + (f"; {sat}" if sat else ""))
    for path in result["files"]:
        print(f"wrote {path}")
    return 0
