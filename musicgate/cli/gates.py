"""``musicgate gates``: what the gates of trained models do on one melody, as pictures."""
from __future__ import annotations

import math
from pathlib import Path

from musicgate.cli.common import check_layer, out_dir
from musicgate.errors import CheckpointError, ConfigError, MidiError


def register(sub) -> None:
    p = sub.add_parser("gates", help="gate heatmaps under the piano roll, memory half-life and "
                       "gate saturation for one melody (give --model once per model to compare)")
    p.add_argument("--model", action="append", required=True, metavar="PATH_OR_NAME",
                   help="a shipped model name (folk-lstm), a checkpoint file or a run folder (repeat to compare cells)")
    p.add_argument("--melody", type=Path, required=True, help="a MIDI file (its top line is used)")
    p.add_argument("-o", "--output", type=out_dir, default="generated/gates",
                   help="folder for the PNGs and gates.json (default generated/gates)")
    p.add_argument("--max-steps", type=int, default=256, help="tokens traced (default 256)")
    p.add_argument("--layer", type=int, default=-1, help="layer shown (default: the last)")
    p.set_defaults(func=gates)


def _load(spec: str):
    """(model, tokenizer) of a shipped model name, a checkpoint file or a run folder."""
    from musicgate.nn.hub import load_model

    model, tokenizer, _meta = load_model(spec)
    if tokenizer is None or not hasattr(model, "embed"):
        raise CheckpointError(f"{spec}: gate pictures need a token language model "
                              "(RecurrentLM) saved with its tokenizer")
    return model, tokenizer


def _label(spec: str, taken: dict) -> str:
    base = Path(spec).stem if spec.endswith(".pt") else Path(spec).name or spec
    return base if base not in taken else f"{base}-{len(taken) + 1}"


def gates(args) -> int:
    from musicgate.files import atomic_write_json
    from musicgate.viz.gates import gate_pictures
    from musicgate.music.midi import read_midi

    if args.max_steps < 4:
        raise ConfigError(f"--max-steps must be at least 4, got {args.max_steps}")
    notes = read_midi(args.melody).skyline()
    if len(notes) == 0:
        raise MidiError(f"{args.melody}: the MIDI file has no pitched notes to trace")
    models: dict = {}
    for spec in args.model:
        model, tokenizer = _load(spec)
        models[_label(spec, models)] = (model, tokenizer)
        check_layer(args.layer, int(model.model_args.get("layers", 1)), where=spec)
    result = gate_pictures(models, notes, args.output, max_steps=args.max_steps, layer=args.layer)
    summary = {label: {**info, "median_half_life": _finite(info["median_half_life"])}
               for label, info in result["cells"].items()}
    atomic_write_json(args.output / "gates.json", {"melody": str(args.melody), "cells": summary})
    for label, info in result["cells"].items():
        half = info["median_half_life"]
        half_text = "no gates" if half is None else f"median half-life {half:.1f} steps"
        sat = ", ".join(f"{g.replace('_gate', '')} {s['low'] + s['high']:.0%} saturated"
                        for g, s in info["saturation"].items())
        print(f"{label} ({info['cell']}, {info['steps']} steps): {half_text}" + (f"; {sat}" if sat else ""))
    for path in result["files"]:
        print(f"wrote {path}")
    print(f"wrote {args.output / 'gates.json'}")
    return 0


def _finite(x):
    if x is None or math.isfinite(x):
        return x
    return "inf"
