"""The retention report: curves with bootstrap bands, the table, the PNGs and the words.

Every sentence of ``report.md`` is written from the measured numbers (confidence intervals
decide "as well as", "better" and "worse"), never canned.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgate.experiments.config import RetentionConfig
from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.analysis.retention import bootstrap_mean_ci, survival_at
from musicgate.analysis.retention import Measured, drift_median, pooled_ci



def _gated(cell: str) -> bool:
    from musicgate.nn.cells import get_cell

    return get_cell(cell).gated


@dataclass
class CellRun:
    """One model's sampled sequences, their measures and where they came from."""

    label: str
    info: dict
    measured: Measured
    tokens: list
    seconds: float

MEASURES = (("in_signature", "in-signature rate"), ("agreement", "key agreement"), ("mirex", "MIREX score"))


def _matrix(m: Measured, measure: str, w: int) -> np.ndarray:
    if measure == "in_signature":
        return m.in_sig_window[w]
    return m.agreement[w].exact if measure == "agreement" else m.agreement[w].mirex


def curves(runs: list[CellRun], config: RetentionConfig) -> dict:
    """``{(label, measure, window): (positions, mean, lo, hi)}`` with bootstrap intervals."""
    out = {}
    for i, r in enumerate(runs):
        for w in config.windows:
            for j, (measure, _) in enumerate(MEASURES):
                x = _matrix(r.measured, measure, w)
                mean, lo, hi = bootstrap_mean_ci(x, n_boot=config.n_boot, level=config.level,
                                                 seed=config.seed + 1000 * i + 10 * j + w)
                out[(r.label, measure, w)] = (np.arange(w, w + x.shape[1]), mean, lo, hi)
    return out


def ceilings(ceiling: Measured | None, config: RetentionConfig) -> dict:
    """``{(measure, window): (mean, lo, hi)}`` pooled over every window of the real tunes."""
    if ceiling is None:
        return {}
    return {(measure, w): pooled_ci(_matrix(ceiling, measure, w), n_boot=config.n_boot, level=config.level,
                                    seed=config.seed + 7)
            for w in config.windows for measure, _ in MEASURES}


def _fmt(v: tuple[float, float, float] | None, digits: int = 3) -> str:
    if v is None or not np.isfinite(v[0]):
        return "n/a"
    return f"{v[0]:.{digits}f} [{v[1]:.{digits}f}, {v[2]:.{digits}f}]"


def _at(c: tuple, p: int) -> tuple[float, float, float] | None:
    pos, mean, lo, hi = c
    i = np.searchsorted(pos, p)
    if i >= len(pos) or pos[i] != p:
        return None
    return float(mean[i]), float(lo[i]), float(hi[i])


def _fmt_median(x: float, length: int) -> str:
    return f"> {length} (not reached)" if math.isinf(x) else f"{x:.0f}"


def _positions(config: RetentionConfig) -> list[int]:
    return sorted({min(p, config.length) for p in config.positions})


def _overlap(a, b) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def by_mode(runs: list[CellRun], ceiling: Measured | None, config: RetentionConfig) -> tuple[list[str], dict]:
    """Windows in the asked key split by the asked key's third (major, minor), as report lines and a dict.

    The pooled ceiling comes in the corpus's mix of modes (on folk about seven major tunes to one
    minor), the models in the mix they were asked; this table compares like with like, and its last
    row weights the real tunes' two modes as the models' keys were asked.
    """
    from musicgate.music.keys import to_major_minor

    w = config.drift_window if config.drift_window in config.windows else config.windows[-1]
    ps = [p for p in _positions(config) if p >= w]
    modes = ("major", "minor")

    def third(m: Measured) -> np.ndarray:
        return np.array([to_major_minor(k).mode for k in m.targets])

    lines = [f"### Windows of {w} notes in the asked key, by the asked mode", "",
             "A modal key counts as the major or minor key with its third. The real tunes' pooled ceiling "
             "above comes in the corpus's mix of modes; here each mode is read alone, and the last row "
             "weights the real tunes' modes as the models' keys were asked.", "",
             "| sequences | mode | sequences counted | " + " | ".join(f"agreement @{p}" for p in ps) + " |",
             "|---|---|---:|" + "---:|" * len(ps)]
    out: dict = {"window": w, "cells": {}, "real": {}}
    asked = third(runs[0].measured) if runs else np.array([])
    for i, r in enumerate(runs):
        mode_of = third(r.measured)
        for mode in modes:
            rows = mode_of == mode
            if not rows.any():
                continue
            x = r.measured.agreement[w].exact[rows]
            mean, lo, hi = bootstrap_mean_ci(x, n_boot=config.n_boot, level=config.level, seed=config.seed + 31 * i)
            c = (np.arange(w, w + x.shape[1]), mean, lo, hi)
            vals = {p: _at(c, p) for p in ps}
            out["cells"].setdefault(r.label, {})[mode] = {str(p): v for p, v in vals.items()}
            lines.append(f"| {r.label} ({r.info['cell']}) | {mode} | {int(rows.sum())} | "
                         + " | ".join(_fmt(vals[p]) for p in ps) + " |")
    if ceiling is not None:
        mode_of = third(ceiling)
        for mode in modes:
            rows = mode_of == mode
            if not rows.any():
                continue
            v = pooled_ci(ceiling.agreement[w].exact[rows], n_boot=config.n_boot, level=config.level,
                          seed=config.seed + 7)
            out["real"][mode] = v
            lines.append(f"| real tunes (all windows) | {mode} | {int(rows.sum())} | " + " | ".join([_fmt(v)] * len(ps))
                         + " |")
        share = {m: float((asked == m).mean()) for m in modes} if len(asked) else {}
        if share and all(m in out["real"] or share[m] == 0 for m in modes):
            weighted = sum(share[m] * out["real"][m][0] for m in modes if share[m])
            out["real_weighted"] = {"value": weighted, "asked_share": share}
            lines.append(f"| real tunes, weighted as asked | {', '.join(f'{share[m]:.0%} {m}' for m in modes)} | - | "
                         + " | ".join([f"{weighted:.3f}"] * len(ps)) + " |")
    return lines + [""], out


def findings(runs: list[CellRun], cv: dict, ceil: dict, medians: dict, config: RetentionConfig) -> list[str]:
    """Sentences that say what was measured, decided by the intervals."""
    w = max(config.windows)
    last = config.length
    first = min(p for p in _positions(config) if p >= w) if any(p >= w for p in _positions(config)) else w
    lines = []
    at_last = {r.label: _at(cv[(r.label, "agreement", w)], last) for r in runs}
    at_first = {r.label: _at(cv[(r.label, "agreement", w)], first) for r in runs}
    c = ceil.get(("agreement", w))
    for r in runs:
        a, f = at_last[r.label], at_first[r.label]
        if a is None or f is None:
            continue
        trend = ("stays level" if _overlap(a, f) else "falls" if a[0] < f[0] else "rises")
        text = (f"**{r.label}** ({r.info['cell']}, {r.info['params']:,} parameters): with {w}-note windows the key "
                f"agreement {trend} from {f[0]:.1%} at note {first} to {a[0]:.1%} at note {last}")
        if c is not None and np.isfinite(c[0]):
            rel = ("within the real-data ceiling's interval" if _overlap(a, c) else
                   f"{abs(a[0] - c[0]) * 100:.1f} points {'below' if a[0] < c[0] else 'above'} the real-data "
                   f"ceiling ({c[0]:.1%})")
            text += f", {rel}"
        text += f"; median time to drift {_fmt_median(medians[r.label], last)} notes."
        lines.append(text)
    rnn = [r for r in runs if r.info["cell"] == "rnn"]
    gated = [r for r in runs if _gated(r.info["cell"])]
    if rnn and gated and at_last[rnn[0].label] is not None:
        a = at_last[rnn[0].label]
        best = max(gated, key=lambda r: at_last[r.label][0] if at_last[r.label] else -1)
        b = at_last[best.label]
        if b is not None:
            if _overlap(a, b):
                verdict = (f"The vanilla RNN keeps the key as well as the gated cells here: at note {last} its "
                           f"agreement ({a[0]:.1%}) and the best gated cell's ({best.label}, {b[0]:.1%}) have "
                           "overlapping 95% intervals.")
            elif a[0] < b[0]:
                verdict = (f"The vanilla RNN keeps the key less well than the gated cells: at note {last} its "
                           f"agreement is {a[0]:.1%} against {b[0]:.1%} for {best.label} (95% intervals apart).")
            else:
                verdict = (f"The vanilla RNN keeps the key better than the gated cells: at note {last} its "
                           f"agreement is {a[0]:.1%} against {b[0]:.1%} for {best.label} (95% intervals apart).")
            lines.append(verdict)
    return lines


def probe_section(path: str | None) -> list[str]:
    """The key-memory probe's table, quoted from its ``results.json``."""
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return [f"(probe results {path} could not be read: {exc})"]
    from musicgate.experiments.probe import probe_table

    from musicgate.experiments.probe import longest_recalled

    longest = longest_recalled(data["results"])
    text = "Longest gap T at which the key is still recalled: " + ", ".join(
        f"{c} {t if t else 'none'}" for c, t in longest.items()) + "."
    return ["## Key-memory probe", "", f"From `{path}`:", "", probe_table(data), "", text, ""]


def _plots(outdir: Path, runs: list[CellRun], cv: dict, ceil: dict, km: dict, ceiling_km, config) -> list[str]:
    from musicgate.viz.plots import new_figure, retention_curves, save_figure

    names = []
    for w in config.windows:
        fig = new_figure(9, 9)
        axes = fig.subplots(3, 1, sharex=True)
        for ax, (measure, title) in zip(axes, MEASURES):
            data = {r.label: cv[(r.label, measure, w)][1:] for r in runs}
            pos = cv[(runs[0].label, measure, w)][0]
            c = ceil.get((measure, w))
            if c is not None:
                ax.axhspan(c[1], c[2], color="black", alpha=0.08, linewidth=0)
            retention_curves(ax, pos, data, ceiling=None if c is None else c[0], ylabel=title,
                             ceiling_label="real tunes (held out)")
            ax.set_ylim(0, 1.02)
            if ax is not axes[0] and ax.get_legend() is not None:
                ax.get_legend().remove()
        fig.subplots_adjust(top=0.95, bottom=0.06, hspace=0.15)
        axes[0].set_title(f"Key retention, windows of {w} notes ending at each position "
                          f"({len(runs[0].measured.targets)} sequences per model)")
        names.append(save_figure(fig, outdir / f"retention-w{w}.png").name)
    pos = np.arange(0, config.length + 1)
    fig = new_figure(9, 4)
    ax = fig.add_subplot(1, 1, 1)
    fig.subplots_adjust(bottom=0.14)
    data = {}
    for r in runs:
        t, s, lo, hi = km[r.label]
        data[r.label] = (survival_at(t, s, pos), survival_at(t, lo, pos), survival_at(t, hi, pos))
    ceil_curve = None if ceiling_km is None else survival_at(ceiling_km[0], ceiling_km[1], pos)
    retention_curves(ax, pos, data, ceiling=ceil_curve, ylabel="share not yet drifted",
                     ceiling_label="real tunes (censored at their end)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Time to drift: first {config.drift_window}-note window not in the target key (Kaplan-Meier)")
    names.append(save_figure(fig, outdir / "drift.png").name)
    return names


def write_report(outdir: Path, config: RetentionConfig, runs: list[CellRun], ceiling: Measured | None,
                 ceiling_info: dict | None) -> Path:
    """Write curves.csv, summary.json, the PNGs and report.md into ``outdir``."""
    cv = curves(runs, config)
    ceil = ceilings(ceiling, config)
    km, medians = {}, {}
    for r in runs:
        med, *curve = drift_median(r.measured)
        km[r.label], medians[r.label] = curve, med
    ceiling_km = ceiling_median = None
    if ceiling is not None:
        ceiling_median, *ceiling_km = drift_median(ceiling)
    buf = io.StringIO()
    buf.write("source,measure,window,position,mean,lo,hi\n")
    for (label, measure, w), (pos, mean, lo, hi) in cv.items():
        for row in zip(pos, mean, lo, hi):
            buf.write(f"{label},{measure},{w},{row[0]},{row[1]:.6g},{row[2]:.6g},{row[3]:.6g}\n")
    for (measure, w), (mean, lo, hi) in ceil.items():
        buf.write(f"real,{measure},{w},all,{mean:.6g},{lo:.6g},{hi:.6g}\n")
    atomic_write_text(outdir / "curves.csv", buf.getvalue())
    pngs = _plots(outdir, runs, cv, ceil, km, ceiling_km, config)
    positions = _positions(config)
    summary = {"cells": {}, "ceiling": {f"{m}_w{w}": list(v) for (m, w), v in ceil.items()}}
    lines = ["# Key retention", "",
             f"{len(config.key_list())} keys x {config.n_per_key} sequences x {config.length} notes per model, "
             f"{'min-p' if config.min_p else 'plain'} sampling (temperature {config.temperature:g}"
             f"{f', min-p {config.min_p:g}' if config.min_p else ''}, no key mask"
             f"{', played as sets: a tune may end and the next follows in the same state' if config.medley else ''}"
             f"{f', primer of {config.primer_notes} notes' if config.primer_notes else ''}); key profile "
             f"`{config.profile}`, duration-weighted; 95% bootstrap intervals over sequences ({config.n_boot} "
             "resamples). A value at note *p* is measured on the window of notes ending at *p*.", ""]
    if ceiling_info and ceiling is not None:
        long_enough = ", ".join(f"{int((~np.isnan(ceiling.agreement[w].exact)).any(axis=1).sum())} with a "
                                f"{w}-note window" for w in config.windows)
        lines += [f"Real-data ceiling: {ceiling_info['tunes']} held-out tunes ({long_enough}; {ceiling_info['split']} "
                  f"split of `{ceiling_info['dataset']}`), labelled keys (a modal label counts as the major or minor "
                  "key with its third for agreement, its own signature for in-signature), every full window "
                  "pooled; interval over tunes.", ""]
    lines += ["| model | cell | parameters | checkpoint | step | best val loss | sha256 |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        i = r.info
        loss = "-" if i.get("best_val_loss") is None else f"{i['best_val_loss']:.4f}"
        lines.append(f"| {r.label} | {i['cell']} | {i['params']:,} | `{i['spec']}` | {i['step']} | {loss} | "
                     f"`{i['sha256'][:16]}` |")
    lines.append("")
    for w in config.windows:
        ps = [p for p in positions if p >= w]
        head = (["model", "params"] + [f"in-sig @{p}" for p in ps] + [f"agreement @{p}" for p in ps]
                + [f"MIREX @{ps[-1]}" if ps else "MIREX"])
        if w == config.drift_window:
            head.append("median drift")
        lines += [f"### Windows of {w} notes", "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        for r in runs:
            row = [f"{r.label} ({r.info['cell']})", f"{r.info['params']:,}"]
            row += [_fmt(_at(cv[(r.label, "in_signature", w)], p)) for p in ps]
            row += [_fmt(_at(cv[(r.label, "agreement", w)], p)) for p in ps]
            row.append(_fmt(_at(cv[(r.label, "mirex", w)], ps[-1])) if ps else "n/a")
            if w == config.drift_window:
                row.append(_fmt_median(medians[r.label], config.length))
            lines.append("| " + " | ".join(row) + " |")
            summary["cells"].setdefault(r.label, {"info": r.info, "median_drift": (
                None if math.isinf(medians[r.label]) else medians[r.label])})
            summary["cells"][r.label][f"w{w}"] = {
                m: {str(p): _at(cv[(r.label, m, w)], p) for p in ps} for m, _ in MEASURES}
        if ceil:
            row = ["real tunes (ceiling, all windows)", "-"]
            row += [_fmt(ceil[("in_signature", w)])] * len(ps) + [_fmt(ceil[("agreement", w)])] * len(ps)
            row.append(_fmt(ceil[("mirex", w)]))
            if w == config.drift_window:
                row.append(_fmt_median(ceiling_median, config.length) + " (censored at tune end)")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    mode_lines, summary["by_mode"] = by_mode(runs, ceiling, config)
    lines += mode_lines
    lines += ["## What was measured", ""] + [f"- {t}" for t in findings(runs, cv, ceil, medians, config)] + [""]
    lines += probe_section(config.probe_results)
    lines += ["## Files", ""] + [f"![{p}]({p})" for p in pngs] + [
        "", "- `sequences.csv`: one row per sequence (and per real tune): means over its windows, drift time",
        "- `curves.csv`: per position mean and 95% interval; `raw.npz`: notes and window keys; "
        "`tokens.npz`: sampled ids",
        "- `config.yaml`: the resolved config; `models.json`: checkpoints with their sha256", "",
        "Reproduce: `musicgate experiment retention --config " + str(outdir / "config.yaml") + "`", ""]
    atomic_write_json(outdir / "summary.json", json.loads(json.dumps(summary, default=_json_default)))
    return atomic_write_text(outdir / "report.md", "\n".join(lines))


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
