"""Key retention over training seeds: each cell's runs as the sample, mean and Student-t interval.

    python benchmarks/retention_seeds.py RUN_DIR [RUN_DIR ...] [--window 32] [-o FILE]

``musicgate experiment retention`` reports each model with bootstrap intervals over its generated
sequences: how well one trained model is measured, not how much another training run (another seed)
would differ. This reads the ``summary.json`` of one or more retention runs made with the same
settings (the models differ; every other entry of their ``config.yaml`` must be equal), groups the
models by cell, and gives per cell the mean over its models with a 95% Student-t interval over them
(:func:`musicgate.analysis.seeds.seed_interval`), then every model's own value, and how many of them
meet issue 13's band (notes in the signature >= 0.95 and windows in the key within 0.10 of the
real-tune ceiling) at each position.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit_table  # noqa: E402

MEASURES = (("in_signature", "notes in the signature"), ("agreement", "windows in the asked key"))
PROTOCOL_FREE = ("models", "output", "probe_results")
"""config.yaml entries that may differ between the runs pooled (what was measured, where it went)."""
IN_SIG_MIN, WINDOW_GAP = 0.95, 0.10
"""Issue 13's band: in the signature >= 0.95, windows in the key >= the ceiling - 0.10."""


def load_runs(folders: list[Path]) -> tuple[dict, dict, list[str]]:
    """Models by cell (label -> summary entry), the first run's ceiling, and the positions measured."""
    import json

    import yaml

    cells: dict[str, dict[str, dict]] = {}
    protocol = ceiling = positions = None
    for folder in folders:
        summary_path, config_path = folder / "summary.json", folder / "config.yaml"
        if not summary_path.is_file() or not config_path.is_file():
            sys.exit(f"retention_seeds.py: {folder} lacks summary.json or config.yaml; give folders that "
                     f"musicgate experiment retention wrote")
        config = yaml.safe_load(config_path.read_text())
        this = {k: v for k, v in config.items() if k not in PROTOCOL_FREE}
        if protocol is None:
            protocol, positions = this, [str(p) for p in config["positions"]]
        elif this != protocol:
            differ = sorted(k for k in set(this) | set(protocol) if this.get(k) != protocol.get(k))
            sys.exit(f"retention_seeds.py: {folder} was measured with other settings ({', '.join(differ)}); "
                     f"pool only runs of one protocol")
        summary = json.loads(summary_path.read_text())
        ceiling = ceiling or summary["ceiling"]
        for label, entry in summary["cells"].items():
            group = cells.setdefault(entry["info"]["cell"], {})
            if label in group or any(e["info"]["sha256"] == entry["info"]["sha256"] for e in group.values()):
                sys.exit(f"retention_seeds.py: model {label} ({entry['info']['spec']}) appears twice; "
                         f"each model must be one training run")
            group[label] = entry
    return cells, ceiling, positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="retention run folders (summary.json, config.yaml)")
    parser.add_argument("--window", type=int, default=32, help="window length in notes (as the runs measured)")
    parser.add_argument("-o", "--output", type=Path, help="also write the tables here")
    parser.add_argument("--png", type=Path, help="also draw each cell's mean and interval over its runs here")
    args = parser.parse_args()
    from musicgate.analysis.seeds import format_interval, seed_interval

    cells, ceiling, positions = load_runs(args.runs)
    w = f"w{args.window}"
    if ceiling is None or f"agreement_{w}" not in ceiling:
        sys.exit(f"retention_seeds.py: the runs measured no windows of {args.window} notes")
    floor = ceiling[f"agreement_{w}"][0] - WINDOW_GAP
    at = " | ".join(f"@{int(p):,}" for p in positions)
    lines = [f"Key retention over training runs, windows of {args.window} notes (`python benchmarks/retention_seeds.py "
             + " ".join(str(r) for r in args.runs) + "`). Each cell's models are its "
             "training runs (seeds); mean over them with a 95% Student-t interval over the runs.", "",
             f"| cell | runs | measure | {at} |", "|---|---:|---|" + "---|" * len(positions)]
    for cell, models in cells.items():
        for key, name in MEASURES:
            values = [seed_interval([m[w][key][p][0] for m in models.values()], floor=0.0, ceiling=1.0)
                      for p in positions]
            lines.append(f"| {cell} | {len(models)} | {name} | " + " | ".join(format_interval(*v, ".3f") for v in values) + " |")
    for key, name in MEASURES:
        real = ceiling[f"{key}_{w}"]
        lines.append(f"| real tunes (ceiling, interval over tunes) | - | {name} | " + " | ".join([format_interval(*real, ".3f")] * len(positions)) + " |")
    lines += ["", f"Each run's own value (notes in the signature / windows in the asked key), and whether it is in "
              f"issue 13's band (in the signature >= {IN_SIG_MIN}, windows in the key >= {floor:.3f}, the ceiling "
              f"{ceiling[f'agreement_{w}'][0]:.3f} less {WINDOW_GAP:.2f}):", "",
              f"| model | cell | {at} | in the band at |", "|---|---|" + "---|" * len(positions) + "---|"]
    for cell, models in cells.items():
        for label, m in models.items():
            pairs = [(m[w]["in_signature"][p][0], m[w]["agreement"][p][0]) for p in positions]
            band = [f"@{int(p):,}" for p, (s, a) in zip(positions, pairs) if s >= IN_SIG_MIN and a >= floor]
            lines.append(f"| {label} | {cell} | " + " | ".join(f"{s:.3f} / {a:.3f}" for s, a in pairs)
                         + f" | {', '.join(band) or 'none'} |")
    emit_table("\n".join(lines) + "\n", args.output)
    if args.png:
        draw(cells, ceiling, positions, w, floor, args.png)


def draw(cells: dict, ceiling: dict, positions: list[str], w: str, floor: float, path: Path) -> None:
    """Two panels (notes in the signature, windows in the key) against the note position: per cell its
    runs as dots and their mean with the t-interval, the real tunes' ceiling as a band, the band's edge."""
    import numpy as np

    from musicgate.analysis.seeds import seed_interval
    from musicgate.figures import new_figure, save_figure
    from musicgate.viz.plots import cell_colour

    x = np.array([int(p) for p in positions], float)
    fig = new_figure(9.0, 3.8)
    for i, (key, name) in enumerate(MEASURES):
        ax = fig.add_subplot(1, 2, i + 1)
        mean, lo, hi = ceiling[f"{key}_{w}"]
        ax.axhspan(lo, hi, color="0.85", label="real tunes (ceiling)")
        ax.axhline(mean, color="0.4", lw=1, ls="--")
        if key == "agreement":
            ax.axhline(floor, color="#e4572e", lw=1, ls=":", label="band edge (ceiling - 0.10)")
        else:
            ax.axhline(IN_SIG_MIN, color="#e4572e", lw=1, ls=":", label="band edge (0.95)")
            ax.axhline(7 / 12, color="0.6", lw=1, ls="-.", label="random pitch (7/12)")
        for j, (cell, models) in enumerate(cells.items()):
            colour = cell_colour(cell, j)
            runs = np.array([[m[w][key][p][0] for p in positions] for m in models.values()])
            stats = np.array([seed_interval(col, floor=0.0, ceiling=1.0) for col in runs.T])
            ax.plot(np.repeat(x[None], len(runs), 0).T, runs.T, "o", color=colour, ms=3, alpha=0.5)
            ax.plot(x, stats[:, 0], "-", color=colour, lw=2, label=f"{cell} ({len(runs)} runs)")
            if len(runs) > 1:
                ax.fill_between(x, stats[:, 1], stats[:, 2], color=colour, alpha=0.2, lw=0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{int(v):,}" for v in x])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("note position")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("Key retention over training runs: mean and 95% t-interval per cell, each run a dot", fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.85, wspace=0.2)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
