"""The gallery's HTML page and ``gallery.json``: static, relative links, inline CSS, no script.

:func:`write_page` is called by :func:`musicgate.teach.gallery.build_gallery` once every file the page
links to exists; it writes ``gallery.json`` and then ``index.html``, both atomically.
"""
from __future__ import annotations

import html
import math
import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.teach.text import CellNumbers, cell_label, comparison_sentences, mean_ci

WINDOW = 32
"""Notes per window of the key curve and the key agreement (as in the retention experiment)."""
MEDIA = "media"
"""The page folder's subfolder for audio, MIDI, MusicXML and pictures."""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:1rem 1.5rem;color:#222;line-height:1.45;background:#fafafa}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.lead{color:#555;margin-top:0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:1rem}
.card{background:#fff;border:1px solid #ddd;border-top:6px solid var(--c,#888);border-radius:6px;padding:.6rem .8rem}
.card h3{margin:.1rem 0 .4rem}
.rnn{--c:#8c8c8c}.lstm{--c:#1f77b4}.gru{--c:#d95f02}
audio{width:100%}
img{max-width:100%;height:auto;display:block;border:1px solid #eee}
figure{margin:.5rem 0}figcaption{font-size:.85rem;color:#555}
.nums{font-size:.9rem;margin:.3rem 0}.links a{margin-right:.8rem}
.warn{color:#a33;font-size:.85rem}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
footer{margin-top:2rem;color:#777;font-size:.85rem}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _href(path: str) -> str:
    return _e(quote(path.replace(os.sep, "/")))


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100.0 * x:.0f}%"


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{float(x):.{digits}f}"


def _figure(src: str, caption: str, alt: str) -> str:
    return (f'<figure><a href="{_href(src)}"><img src="{_href(src)}" alt="{_e(alt)}"></a>'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _card(entry, media: str) -> str:
    f = entry.files
    m = lambda name: f"{media}/{f[name]}"  # noqa: E731
    cell = cell_label(entry.cell)
    n = len(entry.in_signature)
    sig = mean_ci(entry.in_signature)[0]
    agree = mean_ci(entry.agreement)[0]
    links = [f'<a href="{_href(m("midi"))}">MIDI</a>']
    if "musicxml" in f:
        links.append(f'<a href="{_href(m("musicxml"))}">MusicXML (sheet music)</a>')
    links.append(f'<a href="{_href(m("wav"))}">WAV</a>')
    warn = "".join(f'<p class="warn">{_e(x)}</p>' for x in entry.errors)
    return f"""<article class="card {_e(entry.cell)}">
<h3>{_e(entry.label)} <small>({_e(cell)})</small></h3>
<audio controls preload="metadata" src="{_href(m("wav"))}"></audio>
<p class="nums">This sample: {entry.notes} notes, {entry.seconds:.0f} s; {_pct(entry.shown_in_signature)} of its notes
in the {_e(entry.key.name)} signature, {_pct(entry.shown_agreement)} of its windows in that key.
Over all {n} samples: {_pct(sig)} and {_pct(agree)}.</p>
{_figure(m("roll"), "Piano roll over key curve.", f"piano roll and key curve of {entry.label} in {entry.key.name}")}
{_figure(m("gates"), f"Gate view: the {cell} while it plays this sample.",
         f"gate view of {entry.label} in {entry.key.name}")}
<p class="links">{" ".join(links)}</p>{warn}
</article>"""


def _table(numbers: list[CellNumbers]) -> str:
    rows = ["<tr><th>model</th><th>cell</th><th>parameters</th><th>validation NLL (nats/note)</th>"
            "<th>in-signature rate</th><th>key agreement</th><th>median half-life (steps)</th>"
            "<th>gate saturation</th></tr>"]
    for c in numbers:
        sig, agree = mean_ci(c.in_signature), mean_ci(c.agreement)
        sat = np.mean(list(c.saturation.values())) if c.saturation else None
        rows.append(
            f"<tr><td>{_e(c.label)}</td><td>{_e(cell_label(c.cell))}</td>"
            f"<td>{'n/a' if not c.params else f'{c.params:,}'}</td><td>{_num(c.nll_per_note)}</td>"
            f"<td>{_pct(sig[0])} [{_pct(sig[1])}, {_pct(sig[2])}]</td>"
            f"<td>{_pct(agree[0])} [{_pct(agree[1])}, {_pct(agree[2])}]</td>"
            f"<td>{'no gate' if c.median_half_life is None else _num(c.median_half_life, 1)}</td>"
            f"<td>{'no gate' if sat is None else _pct(float(sat))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def retention_parts(folder: Path) -> tuple[list[str], list[str], str | None]:
    """PNG files, the "What was measured" sentences and the report of a retention run folder."""
    def order(p: Path) -> tuple:
        m = re.fullmatch(r"retention-w(\d+)\.png", p.name)
        return (0, -int(m.group(1))) if m else (1, p.name)

    pngs = [p.name for p in sorted(folder.glob("*.png"), key=order)]
    report = folder / "report.md"
    findings: list[str] = []
    if report.is_file():
        text = report.read_text(encoding="utf-8")
        part = re.split(r"^## What was measured\s*$", text, maxsplit=1, flags=re.M)
        if len(part) == 2:
            body = re.split(r"^## ", part[1], maxsplit=1, flags=re.M)[0]
            findings = [line[2:].strip() for line in body.splitlines() if line.startswith("- ")]
    return pngs, findings, report.name if report.is_file() else None


def _md_inline(text: str) -> str:
    """Escape, then keep markdown ``code`` and *emphasis* from the retention report."""
    out = _e(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


def _retention_caption(name: str) -> str:
    m = re.fullmatch(r"retention-w(\d+)\.png", name)
    if m:
        return (f"In-signature rate, key agreement and MIREX score of the {m.group(1)}-note window ending at "
                "each note, with 95% bands; dashed: held-out real tunes.")
    if name == "drift.png":
        return "Share of samples not yet drifted away from their key, by note (Kaplan-Meier)."
    return name


def _retention_section(outdir: Path, folder: Path) -> str:
    pngs, findings, report = retention_parts(folder)
    rel = os.path.relpath(folder, outdir)
    items = "".join(f"<li>{_md_inline(x)}</li>" for x in findings)
    figs = "".join(_figure(f"{rel}/{p}", _retention_caption(p), f"retention figure {p}") for p in pngs)
    link = f' Full report: <a href="{_href(f"{rel}/{report}")}">{_e(report)}</a>.' if report else ""
    return (f'<section id="retention"><h2>Does each cell stay in its key? A short retention run</h2>'
            f'<p class="lead">Many more samples than above, in every key, measured window by window.{link}</p>'
            f"<ul>{items}</ul><div class=\"figs\">{figs}</div></section>")


def write_page(outdir: Path, *, entries: list, numbers: list[CellNumbers], figures: dict, settings: dict,
               retention: Path | None = None, seconds: dict | None = None, notes: list | None = None) -> Path:
    """Write ``gallery.json`` and ``index.html`` into ``outdir``; returns the page's path.

    ``notes`` are shown under the title (e.g. models that are missing)."""

    sentences = comparison_sentences(numbers, window=settings.get("window", WINDOW))
    keys = list(dict.fromkeys(e.key.name for e in entries))
    sections = []
    for key in keys:
        cards = "".join(_card(e, MEDIA) for e in entries if e.key.name == key)
        anchor = re.sub(r"[^A-Za-z0-9]+", "-", key)
        sections.append(f'<section id="key-{_e(anchor)}"><h2>{_e(key)}</h2><div class="grid">{cards}</div></section>')
    nav = " · ".join(f'<a href="#key-{_e(re.sub(r"[^A-Za-z0-9]+", "-", k))}">{_e(k)}</a>' for k in keys)
    model_names = ", ".join(c.name for c in numbers)
    n = settings.get("num", 1)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    ret = _retention_section(outdir, retention) if retention is not None and retention.is_dir() else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>musicgate gallery: RNN, LSTM and GRU</title>
<style>{CSS}</style></head>
<body>
<header><h1>What gates buy: RNN, LSTM and GRU play folk tunes</h1>
<p class="lead">Each model ({_e(model_names)}) wrote a tune of {settings.get("length")} notes in each key below,
starting from nothing but the key and the metre. Listen, look at which notes leave the key, and at what the
gates do while the model plays. Keys: {nav}{' · <a href="#retention">retention</a>' if ret else ""}.</p>
{"".join(f'<p class="warn">{_e(x)}</p>' for x in notes or [])}</header>
<section id="comparison"><h2>What the numbers say</h2>
<p class="lead">Written from the measurements of this page: {n} samples per model and key, the first of which
you can hear below.</p>
<ul>{"".join(f"<li>{_e(s)}</li>" for s in sentences)}</ul>
<p class="lead">How to read the pictures below. <b>Piano roll</b>: one bar per note, red when its pitch is
outside the target key signature; grey lines are bar lines. <b>Key curve</b> under it: the key estimated from
the {settings.get("window", WINDOW)} notes around each point (colour), how sure the estimate is (black line),
and a green band where it agrees with the target key. <b>Gate view</b>: each row is one unit of the model's
last layer, each column one token; LSTM: input gate i, forget gate f, output gate o and cell state c; GRU:
reset gate r, update gate z and hidden state h; RNN: hidden state h only (it has no gates). Units that keep
their memory longest sit at the top. Click a picture to see it full size.</p>
{_table(numbers)}
<div class="figs">
{_figure(f"{MEDIA}/{figures['half_life']}", "Memory half-life of every unit of the last layer, while playing the samples.",
         "memory half-life per unit, by cell")}
{_figure(f"{MEDIA}/{figures['saturation']}", "Gate saturation per unit: share of steps below 0.1 (x) and above 0.9 (y).",
         "gate saturation per unit, by cell")}
</div></section>
{"".join(sections)}
{ret}
<footer>Made by <code>musicgate gallery</code> on {_e(stamp)}: models {_e(", ".join(settings.get("models", [])))};
seed {settings.get("seed")}; plain sampling (temperature 1, no key mask). Every file is in the
<code>{MEDIA}/</code> folder beside this page; <code>gallery.json</code> holds every number.</footer>
</body></html>
"""
    record = {
        "settings": settings, "seconds": {k: round(v, 2) for k, v in (seconds or {}).items()},
        "sentences": sentences,
        "models": [{"label": c.label, "cell": c.cell, "params": c.params, "nll_per_note": c.nll_per_note,
                    "in_signature": mean_ci(c.in_signature), "agreement": mean_ci(c.agreement),
                    "median_half_life": c.median_half_life, "saturation": c.saturation} for c in numbers],
        "samples": [{"model": e.label, "cell": e.cell, "key": e.key.name, "notes": e.notes,
                     "audio_seconds": round(e.seconds, 2), "files": {k: f"{MEDIA}/{v}" for k, v in e.files.items()},
                     "in_signature": e.in_signature, "agreement": e.agreement, "errors": e.errors} for e in entries],
        "figures": {k: f"{MEDIA}/{v}" for k, v in figures.items()},
        "retention": None if retention is None else os.path.relpath(retention, outdir), "notes": list(notes or []),
    }
    atomic_write_json(outdir / "gallery.json", _clean(record))
    return atomic_write_text(outdir / "index.html", page)


def _clean(x):
    """JSON-ready: NaN and inf become None, numpy scalars plain numbers."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x
