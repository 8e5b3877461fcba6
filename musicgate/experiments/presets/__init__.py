"""Configs that ship with the package: the tuned settings of ``musicgate bench polyphonic``.

``poly-DATASET-CELL.yaml`` holds the :class:`~musicgate.experiments.polyphonic.PolyConfig` tuned on
validation NLL for one dataset and cell. They are package data, so an installed musicgate finds them
without a source checkout.
"""
from __future__ import annotations

from pathlib import Path

PRESETS = Path(__file__).resolve().parent
"""The folder holding the shipped YAML configs."""


def presets() -> list[str]:
    """Names of the shipped configs (file stems), sorted."""
    return sorted(p.stem for p in PRESETS.glob("*.yaml"))


def preset_path(name: str) -> Path | None:
    """The shipped config ``NAME.yaml``, or None when there is none of that name."""
    path = PRESETS / f"{name}.yaml"
    return path if path.is_file() else None


def poly_preset(dataset: str, cell: str) -> Path | None:
    """The tuned polyphonic config of ``dataset`` and ``cell`` (None: the PolyConfig defaults apply)."""
    return preset_path(f"poly-{dataset}-{cell}")


__all__ = ["PRESETS", "presets", "preset_path", "poly_preset"]
