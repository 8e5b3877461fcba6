"""The gallery's HTML page and ``gallery.json``: static, relative links, inline CSS, no script of its own.

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
from musicgate.teach.text import (CellNumbers, cell_label, comparison_sentences, gate_explanations, mean_ci,
                                  plain_in_key, plain_keepers, plain_sentences)

WINDOW = 32
"""Notes per window of the key curve and the key agreement (as in the retention experiment)."""
MEDIA = "media"
"""The page folder's subfolder for audio, MIDI, MusicXML and pictures."""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1300px;
padding:1rem 1.5rem;color:#222;line-height:1.5;background:#fafafa;font-size:17px}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.lead{color:#333;margin-top:0;max-width:62rem}
.look{background:#eef5fb;border-left:5px solid #0072b2;padding:.5rem .9rem;border-radius:4px;max-width:62rem}
.card{background:#fff;border:1px solid #ddd;border-left:8px solid var(--c,#888);border-radius:6px;
padding:.6rem .9rem;margin:.8rem 0}
.card h3{margin:.1rem 0 .4rem}
.head{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}.head audio{width:320px}
.head p{margin:.2rem 0}
.tune{display:grid;grid-template-columns:minmax(220px,280px) 1fr;gap:1rem;align-items:start}
@media (max-width:900px){.tune{grid-template-columns:1fr}}
audio{width:100%}
img{max-width:100%;height:auto;display:block;border:1px solid #eee}
figure{margin:.5rem 0}figcaption{font-size:.95rem;color:#333;margin-top:.2rem}
.nums{font-size:.95rem;margin:.3rem 0}.links a{margin-right:.8rem}
.warn{color:#a33;font-size:.9rem}
dl.gates{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.4rem 0 .8rem}
dl.gates dt{font-weight:700}dl.gates dd{margin:0}
@media (max-width:600px){dl.gates{grid-template-columns:1fr}dl.gates dd{margin-bottom:.4rem}}
details{margin:.6rem 0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.3rem .8rem}
details>summary{cursor:pointer;font-weight:600;color:#0b4f80}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1rem}
.wide{overflow-x:auto}
code.cmd{display:block;background:#f3f3f3;padding:.4rem .6rem;margin:.3rem 0;white-space:pre-wrap}
.stream{font-family:ui-monospace,monospace;font-size:.9rem}
footer{margin-top:2rem;color:#666;font-size:.85rem}
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


def _colour(cell: str) -> str:
    from musicgate.nn.cells import get_cell
    from musicgate.errors import ConfigError

    try:
        return get_cell(cell).colour
    except ConfigError:
        return "#888888"


def _label_of(cell: str, value: str) -> str:
    from musicgate.nn.cells import get_cell

    return get_cell(cell).label_of(value)


def _gated(cell: str) -> bool:
    from musicgate.nn.cells import get_cell
    from musicgate.errors import ConfigError

    try:
        return get_cell(cell).gated
    except ConfigError:
        return True


def _card(entry, media: str) -> str:
    """One tune: player and links on the left, its roll and key curve on the right, its gates folded."""
    f = entry.files
    m = lambda name: f"{media}/{f[name]}"  # noqa: E731
    cell = cell_label(entry.cell)
    links = [f'<a href="{_href(m("midi"))}">MIDI</a>']
    if "musicxml" in f:
        links.append(f'<a href="{_href(m("musicxml"))}">sheet music (MusicXML)</a>')
    if "abc" in f:
        links.append(f'<a href="{_href(m("abc"))}">ABC</a>')
    links.append(f'<a href="{_href(m("wav"))}">WAV</a>')
    warn = "".join(f'<p class="warn">{_e(x)}</p>' for x in entry.errors)
    out = int(round((1 - entry.heard_in_signature) * entry.notes)) if math.isfinite(entry.heard_in_signature) else None
    heard = "" if out is None else f"{out} of its {entry.notes} notes are outside the key signature (red in the picture). "
    return f"""<article class="card" style="--c:{_e(_colour(entry.cell))}">
<h3>{_e(entry.label)} <small>({_e(cell)})</small></h3>
<div class="head"><audio controls preload="metadata" src="{_href(m("wav"))}"></audio>
<p class="nums">{entry.seconds:.0f} seconds. {heard}</p>
<p class="links">{" ".join(links)}</p></div>{warn}
{_figure(m("roll"), f"The tune note by note (red: outside {entry.key.name}); under it, the key a listener would "
         "hear at each point: dark blue is the asked key, hatched a neighbour key.",
         f"piano roll and key curve of {entry.label} in {entry.key.name}")}
<details><summary>Its gates while it plays this tune</summary>
{_figure(m("gates"), (f"The {cell}'s gates note by note (one column per note, one row per unit; yellow: open, "
         "dark: shut), under the same notes.") if _gated(entry.cell) else (f"The {cell} has no gates: its memory "
         "note by note (one column per note, one row per unit; red: positive, blue: negative)."),
         f"gate view of {entry.label} in {entry.key.name}")}
</details>
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
    return '<div class="wide"><table>' + "".join(rows) + "</table></div>"  # scrolls by itself on a phone


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
    return (f'<div id="retention"><p class="lead">Many more samples than above, in every key, measured window by '
            f'window.{link}</p><ul>{items}</ul><div class="figs">{figs}</div></div>')


def _count_words(n: int) -> str:
    return ("One", "Two", "Three", "Four", "Five", "Six")[n - 1] if 1 <= n <= 6 else str(n)


def _gates_intro(numbers: list[CellNumbers]) -> str:
    plain = list(dict.fromkeys(cell_label(c.cell) for c in numbers if not _gated(c.cell)))
    gated = list(dict.fromkeys(cell_label(c.cell) for c in numbers if _gated(c.cell)))
    out = []
    if plain:
        out.append(f"The {' and the '.join(plain)} {'has' if len(plain) == 1 else 'have'} no gates.")
    if gated:
        out.append(f"The {' and the '.join(gated)} {'has' if len(gated) == 1 else 'have'} gates: switches that "
                   "decide, at every note, what to keep in memory.")
    return " ".join(out)


def _ul(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in items) + "</ul>" if items else ""


def _fold(summary: str, body: str) -> str:
    return f"<details><summary>{_e(summary)}</summary>{body}</details>" if body else ""


def _pick(sentences: list[str], *words: str) -> list[str]:
    return [x for x in sentences if any(w in x for w in words)]


def _gates_section(entries: list, numbers: list[CellNumbers], sentences: list[str], figures: dict) -> str:
    """Each cell's gates explained once, beside the gate view of its first tune."""
    first = {}
    for e in entries:
        first.setdefault(e.label, e)
    cards = []
    for c in numbers:
        e = first.get(c.label)
        if e is None:
            continue
        rows = "".join(f"<dt>{_e(label)}</dt><dd>{_e(words)}</dd>" for label, words in gate_explanations(c.cell))
        cell = cell_label(c.cell)
        gated = c.median_half_life is not None
        intro = (f"The {cell} has gates. In the picture each row is one unit of its memory and each column one note; "
                 "yellow means the gate is open (1), dark that it is shut (0)." if gated else
                 f"The {cell} has no gates: at every note it mixes the new note into all of its memory, so old "
                 "notes fade fast. Its picture shows only its memory (red: positive, blue: negative).")
        cards.append(f"""<article class="card" style="--c:{_e(_colour(c.cell))}"><h3>{_e(c.name)}</h3>
<p>{_e(intro)}</p><dl class="gates">{rows}</dl>
{_figure(f"{MEDIA}/{e.files['gates']}", f"Look at the row marked (keep): the longer a unit stays yellow there, the longer it "
         f"keeps what it holds. {c.label} playing its {e.key.name} tune." if gated else
         f"Look at how every unit changes at almost every note. {c.label} playing its {e.key.name} tune.",
         f"gate view of {c.label} in {e.key.name}")}
</article>""")
    numbers_fold = _fold("The numbers: memory half-life and saturation", _ul(_pick(
        sentences, "half-life", "saturated", "no gate")) + '<div class="figs">' + _figure(
        f"{MEDIA}/{figures['half_life']}", "How long each unit keeps half of what it holds (further right: longer).",
        "memory half-life per unit, by cell") + _figure(
        f"{MEDIA}/{figures['saturation']}", "Gates that act as switches sit near the corners (nearly always shut or open).",
        "gate saturation per unit, by cell") + "</div>")
    return f"""<section id="gates"><h2>2. What the gates do</h2>
<p class="look">A gate is a row of dimmer switches, one per unit of memory, set again at every note: 1 is open, 0 is
shut. Each gate below is explained once, beside a picture of the gates at work. Look for the gate marked
<b>(keep)</b>: it decides what stays in memory.</p>
{"".join(cards)}{numbers_fold}</section>"""


def _keepers_section(numbers: list[CellNumbers], keepers: dict) -> str:
    figs = []
    for c in numbers:
        png = keepers.get(c.label)
        if png is None:
            continue
        kk = c.keepers
        figs.append(_figure(f"{MEDIA}/{png}",
                            f"{c.name}: do the blue lines (this key) stay apart from the orange and purple ones (other "
                            f"keys) all tune long? Its best unit tells the key right {100 * kk.best:.0f}% of the time "
                            f"(guessing: {100 * kk.chance:.0f}%).", f"key keepers of {c.label}"))
    if not figs:
        return ("<section id=\"keepers\"><h2>3. Key keepers</h2><p class=\"lead\">The key keepers need at least two "
                "keys and two tunes per key; build the page with more keys or --num 2 or more.</p></section>")
    some = next(c.keepers for c in numbers if c.keepers is not None)
    from musicgate.viz.gates import memory_value

    memories = "; ".join(dict.fromkeys(f"{cell_label(c.cell)}: {_label_of(c.cell, memory_value(c.cell))}"
                                       for c in numbers if c.keepers is not None))
    how = (f"<p>For every unit of the last layer we tried to tell the asked key from that unit's value alone, after "
           f"each note: a linear read-out with one input (the key whose average value, learnt on half of the tunes, "
           f"is nearest), scored on the other half of the tunes and then the other way round. Its score is the share "
           f"of notes (from note {some.skip + 1} on) where it tells the key right; guessing scores "
           f"{100 * some.chance:.0f}%. The three units that score best are drawn. The value drawn is the unit's memory "
           f"({memories}) once the note is read; the strip is its keep gate averaged over the tokens of the "
           "note.</p>" + _ul([
               f"{c.name}: best units {', '.join(str(int(u)) for u in c.keepers.units)} score "
               f"{', '.join(f'{100 * c.keepers.accuracy[u]:.0f}%' for u in c.keepers.units)}; the median unit "
               f"{100 * float(np.median(c.keepers.accuracy)):.0f}%; over notes {c.keepers.skip + 1}-"
               f"{min(c.keepers.skip + 30, c.keepers.by_note.shape[1])}: "
               f"{100 * float(c.keepers.by_note[:, c.keepers.skip:c.keepers.skip + 30].mean()):.0f}%, over the last 30: "
               f"{100 * float(c.keepers.by_note[:, -30:].mean()):.0f}% (best three, held-out tunes)"
               for c in numbers if c.keepers is not None]))
    return f"""<section id="keepers"><h2>3. Key keepers: where does the network keep the key?</h2>
<p class="look">Each network was asked for tunes in several keys. Below, for each network, are the three units whose
value best tells which key was asked, drawn under the notes of one of the tunes the numbers are measured on (they
run to the full length, where a tune you heard may end early). Thick blue: this tune; thin blue: other tunes in the
same key; orange dashed and purple dotted: tunes in other keys. If the lines of different keys stay apart from
the first note to the last, that unit holds the key. The strip under each unit is its keep gate: yellow keeps.</p>
{_ul(plain_keepers(numbers))}
{"".join(figs)}
{_fold("How the key keepers were found, and their numbers", how)}</section>"""


def _steady(stream: list, *, hold: float = 0.03) -> list:
    """The guesses of a streamed clip that last at least ``hold`` seconds, and the last one (a class
    follows the guess, not every flicker; ``gallery.json`` keeps them all)."""
    ends = [t for t, _, _ in stream[1:]] + [math.inf]
    kept = [g for g, end in zip(stream, ends) if end - g[0] >= hold - 1e-9] or stream[-1:]
    if stream and kept[-1] is not stream[-1]:
        kept.append(stream[-1])
    return [g for i, g in enumerate(kept) if i == 0 or g[1] != kept[i - 1][1]]


def _speech_section(speech: dict | None) -> str:
    from musicgate.teach.speechpart import HOW_TO

    if speech is None:
        cmds = "".join(f'<code class="cmd">{_e(c)}</code>' for c in HOW_TO)
        return (f'<section id="speech"><h2>4. The same gates listen to speech</h2><p class="look">No speech run was '
                f"given, so this part is empty. To add it, train the small spoken-digit model (a few minutes on a "
                f"laptop) and build the page again:</p>{cmds}</section>")
    cards = []
    for clip in speech["clips"]:
        if "error" in clip:
            cards.append(f'<p class="warn">{_e(clip["name"])}: {_e(clip["error"])}</p>')
            continue
        streamed = " → ".join(f"{t:.2f} s: {label} ({100 * p:.0f}%)" for t, label, p in _steady(clip["stream"]))
        cards.append(f"""<article class="card" style="--c:{_e(_colour(speech['cell']))}"><h3>{_e(clip['name'])}:
heard as “{_e(clip['label'])}” ({100 * clip['probability']:.0f}% sure at the end)</h3>
<div class="tune"><div><audio controls preload="metadata" src="{_href(f"{MEDIA}/{clip['wav']}")}"></audio>
<p class="nums">Its guess as the sound streams in:</p><p class="stream">{_e(streamed)}</p></div>
{_figure(f"{MEDIA}/{clip['png']}", "Top: the sound (log-mel: low pitches at the bottom, loud is bright). Under it, "
         "the gates frame by frame. Bottom: how sure it is of each word after every 10 ms.",
         f"speech gate view of {clip['name']}")}</div></article>""")
    if speech.get("message"):
        cards.append(f'<p class="warn">{_e(speech["message"])}</p>')
    acc = speech.get("accuracy")
    facts = _ul([f"Run: {speech['run']} ({cell_label(speech['cell'])}), trained on {speech.get('data')}.",
                 f"Test accuracy: {'not recorded' if acc is None else f'{100 * acc:.1f}%'}."])
    return f"""<section id="speech"><h2>4. The same gates listen to speech</h2>
<p class="look">A network with the same kind of memory learned to recognise spoken digits. Play the clip and follow the
guess: the network hears the word 10 ms at a time and changes its mind as more of the word comes in. Watch its keep
gate while the word is spoken, and in the silence after it.</p>
{"".join(cards)}{_fold("The speech run", facts)}</section>"""


def write_page(outdir: Path, *, entries: list, numbers: list[CellNumbers], figures: dict, settings: dict,
               retention: Path | None = None, seconds: dict | None = None, notes: list | None = None,
               keepers: dict | None = None, speech: dict | None = None, live_section: str = "") -> Path:
    """Write ``gallery.json`` and ``index.html`` into ``outdir``; returns the page's path.

    ``notes`` are shown under the title (e.g. models that are missing); ``keepers`` maps a model's
    label to its key-keeper PNG in ``media/``; ``speech`` is
    :func:`musicgate.teach.speechpart.speech_view`'s result (None: the page says how to make one);
    ``live_section`` is HTML placed after the key keepers (the live generator)."""

    sentences = comparison_sentences(numbers, window=settings.get("window", WINDOW))
    keepers = keepers or {}
    keys = list(dict.fromkeys(e.key.name for e in entries))
    anchor = lambda k: "key-" + re.sub(r"[^A-Za-z0-9]+", "-", k)  # noqa: E731
    tunes = "".join(f'<h3 id="{_e(anchor(key))}">{_e(key)}</h3>' + "".join(_card(e, MEDIA) for e in entries
                                                                          if e.key.name == key) for key in keys)
    nav = " · ".join(f'<a href="#{_e(anchor(k))}">{_e(k)}</a>' for k in keys)
    model_names = ", ".join(cell_label(c.cell) for c in numbers)
    n = settings.get("num", 1)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    ret = _retention_section(outdir, retention) if retention is not None and retention.is_dir() else ""
    listen_fold = _fold("The numbers: in-key rates and key agreement, with 95% intervals", _ul(_pick(
        sentences, "n-signature rate", "key agreement")) + f"<p>Measured over {n} tunes per model and key of "
        f"exactly {settings.get('length')} notes each, drawn plainly (temperature 1, nothing left out, no end allowed "
        "before), as the retention study draws them, so a tune cannot stay in its key by ending early. The tune you "
        "hear is drawn as <code>musicgate generate</code> draws it, with the same seed, and ends where the model ends "
        "it.</p>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>musicgate: how RNN, LSTM and GRU remember the key</title>
<style>{CSS}</style></head>
<body>
<header><h1>How does a network remember the key?</h1>
<p class="lead">{_e(_count_words(len(numbers)))} small network{"s" if len(numbers) != 1 else ""} ({_e(model_names)})
learned from folk tunes. Each was asked for tunes in a key and wrote them one note at a time, ending each where it
chose (at most {settings.get("length")} notes). {_e(_gates_intro(numbers))} Listen first, then look at what the
gates do and where each network keeps the key.</p>
<p>Tunes in: {nav} · <a href="#gates">the gates</a> · <a href="#keepers">key keepers</a> ·
<a href="#speech">speech</a> · <a href="#numbers">the numbers</a></p>
{"".join(f'<p class="warn">{_e(x)}</p>' for x in notes or [])}</header>
<section id="listen"><h2>1. Listen: does each tune stay in its key?</h2>
<p class="look">Play the tunes of one key one after another and listen for notes that sound wrong, as if the tune
forgot where home is. In the pictures, red notes are outside the key; the strip under the notes shows the key a
listener would hear there (dark blue: the asked key).</p>
{_ul(plain_in_key(numbers))}
{tunes}
{listen_fold}</section>
{_gates_section(entries, numbers, sentences, figures)}
{_keepers_section(numbers, keepers)}
{live_section}
{_speech_section(speech)}
<section id="numbers"><h2>5. For the curious: all the numbers</h2>
<p class="lead">The same comparison as measured, for those who want the statistics.</p>
{_fold("Every measurement, with intervals", _ul(sentences) + _table(numbers))}
{_fold("Does each cell stay in its key? The short retention run", ret)}
</section>
<footer>Made by <code>musicgate gallery</code> on {_e(stamp)}: models {_e(", ".join(settings.get("models", [])))};
seed {settings.get("seed")}; the tunes heard drawn as <code>musicgate generate</code> draws them, the numbers
from plain sampling (temperature 1, no key mask). Every file is in the
<code>{MEDIA}/</code> folder beside this page; <code>gallery.json</code> holds every number.</footer>
</body></html>
"""
    record = {
        "settings": settings, "seconds": {k: round(v, 2) for k, v in (seconds or {}).items()},
        "sentences": sentences, "plain": plain_sentences(numbers),
        "models": [{"label": c.label, "cell": c.cell, "params": c.params, "nll_per_note": c.nll_per_note,
                    "in_signature": mean_ci(c.in_signature), "agreement": mean_ci(c.agreement),
                    "median_half_life": c.median_half_life, "saturation": c.saturation,
                    "key_keepers": None if c.keepers is None else {
                        "units": c.keepers.units.tolist(), "accuracy": c.keepers.accuracy[c.keepers.units].tolist(),
                        "median_unit": float(np.median(c.keepers.accuracy)), "chance": c.keepers.chance,
                        "by_note": c.keepers.by_note.mean(axis=0).tolist(), "keys": c.keepers.keys,
                        "figure": f"{MEDIA}/{keepers[c.label]}" if keepers.get(c.label) else None}}
                   for c in numbers],
        "samples": [{"model": e.label, "cell": e.cell, "key": e.key.name, "notes": e.notes,
                     "audio_seconds": round(e.seconds, 2), "files": {k: f"{MEDIA}/{v}" for k, v in e.files.items()},
                     "heard_in_signature": e.heard_in_signature, "heard_agreement": e.heard_agreement,
                     "in_signature": e.in_signature, "agreement": e.agreement, "errors": e.errors} for e in entries],
        "figures": {k: f"{MEDIA}/{v}" for k, v in figures.items()},
        "speech": speech, "retention": None if retention is None else os.path.relpath(retention, outdir),
        "notes": list(notes or []),
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
