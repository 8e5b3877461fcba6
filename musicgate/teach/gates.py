"""``musicgate gates`` as a library call: what the gates of trained models do on one melody.

:func:`gates_report` loads each model (a shipped name, a checkpoint file or a run folder, see
:mod:`musicgate.nn.hub`), traces it on the melody's top line and writes the gate view per model,
the half-life and saturation figures (:func:`musicgate.viz.gates.gate_pictures`) and ``gates.json``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

from musicgate.errors import CheckpointError, ConfigError, MidiError


def load_language_model(spec: str):
    """(model, tokenizer) of a shipped model name, a checkpoint file or a run folder."""
    from musicgate.nn.hub import load_model

    model, tokenizer, _meta = load_model(spec)
    if tokenizer is None or not hasattr(model, "embed"):
        raise CheckpointError(f"{spec}: gate pictures need a token language model "
                              "(RecurrentLM) saved with its tokenizer")
    return model, tokenizer


def model_label(spec: str, taken: dict) -> str:
    """A label for ``spec`` (file stem or folder name) not yet in ``taken``."""
    base = Path(spec).stem if spec.endswith(".pt") else Path(spec).name or spec
    return base if base not in taken else f"{base}-{len(taken) + 1}"


def _finite(x):
    if x is None or math.isfinite(x):
        return x
    return "inf"


def gates_report(models: Sequence[str], melody: "str | os.PathLike", output: "str | os.PathLike", *,
                 max_steps: int = 256, layer: int = -1) -> dict:
    """Gate pictures and numbers of one or more models on one melody.

    Parameters
    ----------
    models : shipped model names, checkpoint files or run folders (one picture each).
    melody : a MIDI file; its top line is traced.
    output : folder for ``gates_LABEL.png``, ``half_life.png``, ``saturation.png`` and ``gates.json``.
    max_steps : tokens traced (at least 4).
    layer : the layer shown (Python indexing: -1 is the last).

    Returns
    -------
    dict
        ``files`` (every file written, ``gates.json`` last) and ``cells``: per label the cell,
        steps, median half-life (None for an RNN) and the saturated shares per gate.
    """
    from musicgate.files import atomic_write_json
    from musicgate.music.midi import read_midi
    from musicgate.nn.hub import check_layer
    from musicgate.viz.gates import gate_pictures

    if max_steps < 4:
        raise ConfigError(f"--max-steps must be at least 4, got {max_steps}")
    notes = read_midi(melody).skyline()
    if len(notes) == 0:
        raise MidiError(f"{melody}: the MIDI file has no pitched notes to trace")
    loaded: dict = {}
    for spec in models:
        model, tokenizer = load_language_model(spec)
        loaded[model_label(spec, loaded)] = (model, tokenizer)
        check_layer(layer, int(model.model_args.get("layers", 1)), where=spec)
    output = Path(output)
    result = gate_pictures(loaded, notes, output, max_steps=max_steps, layer=layer)
    summary = {label: {**info, "median_half_life": _finite(info["median_half_life"])}
               for label, info in result["cells"].items()}
    report = atomic_write_json(output / "gates.json", {"melody": str(melody), "cells": summary})
    return {"files": [*result["files"], report], "cells": result["cells"]}


__all__ = ["gates_report", "load_language_model", "model_label"]
