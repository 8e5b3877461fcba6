"""Live generation in the gallery page: the models run in the browser, offline, from ``file://``.

:func:`write_live` writes a ``live/`` folder next to the page and returns the HTML of its "Make a
new tune" section. The folder holds

- ``model-NAME.js`` per model (:func:`export_model`): a ``<script>`` that registers the weights
  (Float32 little-endian, base64) with a JSON header (cell, sizes, tensor shapes, the form
  inputs of a model that plans its bars and the lookback inputs of one that reads what the tune
  played k bars ago) and the tokenizer's vocabulary and settings, from which the page's grammar is
  built;
- ``sounds.js`` (:func:`export_sounds`): a few notes of one General MIDI instrument rendered with the
  project's renderer (:mod:`musicgate.music.audio`), as base64 Ogg Vorbis, pitch-shifted in the
  browser between them;
- the page's JavaScript, copied from the package (``musicgate/teach/live/*.js``): the
  embedding + RNN/LSTM/GRU step as PyTorch computes it (``model.js``), the sampler's grammar, length
  control and decoding (``grammar.js``), the tune's ABC notation as :func:`musicgate.music.abcwrite.to_abc`
  writes it (``abc.js``), and the panel, piano roll, WebAudio player and gate view (``player.js``).

Everything loads as ``<script>`` files, because Chromium blocks ``fetch()`` of local files from
``file://`` pages. The page shows a message, never a blank panel, when the folder or a file is
missing or unreadable, or the browser has no Web Audio.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from musicgate.errors import ConfigError
from musicgate.files import atomic_write_text

LIVE = "live"
"""The page folder's subfolder for the live generator's files."""
SCRIPTS = ("model.js", "grammar.js", "abc.js", "player.js")
"""The page's JavaScript, in load order (package data in ``musicgate/teach/live/``)."""
CELLS = ("rnn", "lstm", "gru")
"""Cells the JavaScript step computes (PyTorch's nn.RNN (tanh), nn.LSTM, nn.GRU)."""
SOUND_PITCHES = tuple(range(36, 97, 6))
"""MIDI pitches rendered for the page's instrument (every 6 semitones: a shift of at most 3)."""
SOUND_RATE = 22050
SOUND_SECONDS = 2.5
CSS = """
#live-panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
.live-controls{display:flex;flex-wrap:wrap;gap:.8rem 1rem;align-items:center;margin-bottom:.4rem}
.live-controls input[type=number]{width:5.5em}.live-buttons{display:flex;gap:.6rem}
.live-controls label{font-weight:600}.live-controls button{font-size:1rem;padding:.3rem 1rem}
#live-roll,#live-gates{display:block;margin:.4rem 0}.live-info{font-size:.85rem;color:#555;margin:.2rem 0}
"""
KEY_UNITS = 6
"""Units of the last layer drawn in the live gate view."""


def script_dir() -> Path:
    """The package folder holding the page's JavaScript."""
    return Path(__file__).resolve().parent / LIVE


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that is safe inside ``<script>``."""
    return json.dumps(text).replace("</", "<\\/")


def unsupported(model, tokenizer) -> str | None:
    """Why the page cannot run ``model`` (a short phrase), or None when it can."""
    cell = getattr(model, "cell", None)
    if cell not in CELLS or not hasattr(model, "embed"):
        return f"the live page runs only {', '.join(CELLS)} token models, not {cell!r}"
    if tokenizer is None or tokenizer.kind != "melody":
        kind = "no tokenizer" if tokenizer is None else f"the {tokenizer.kind} vocabulary"
        return f"the live page runs only melody-vocabulary models, not one with {kind}"
    if getattr(model, "has_key_input", False):
        return "the live page does not run models with key inputs (model.key_input)"
    return None


def _bar_line_counts(bar_lines, name: str) -> dict[str, int]:
    """A checkpoint's ``dataset.bar_lines`` ({bar lines: training tunes}) checked, as the page reads it."""
    from musicgate.generation.plans import whole_counts

    counts = whole_counts(bar_lines)
    if not counts or not sum(counts.values()):
        raise ConfigError(f"{name}: its bar-line counts should map whole numbers of bar lines >= 1 to numbers of "
                          f"tunes >= 0, some above 0, got {str(bar_lines)[:200]}; export the model again "
                          "(musicgate export) or leave them out")
    return {str(k): v for k, v in sorted(counts.items()) if v > 0}


def _meter_plans(by_meter: dict, tokenizer, name: str) -> dict[str, list[list[int]]]:
    """The meters of a checkpoint's ``dataset.bar_lines_by_meter`` whose pieces draw their plans from their
    own tunes (:func:`~musicgate.generation.plans.meter_tables`), each as [[bar lines, tunes], ...]."""
    from musicgate.generation.plans import meter_tables
    from musicgate.music.meters import parse_meter

    checked = {}
    for meter, counts in dict(by_meter).items():
        counts = _bar_line_counts(counts, name)
        try:
            parse_meter(str(meter))
        except ConfigError:
            continue   # not a time signature: no plans of its own
        checked[str(meter)] = counts
    return {m: [[int(k), v] for k, v in counts.items()] for m, counts in meter_tables(tokenizer, checked).items()}


def model_payload(model, tokenizer, *, name: str, bar_lines: dict | None = None, modes: dict | None = None,
                  register: dict | None = None, bar_lines_by_meter: dict | None = None) -> dict:
    """The header and weights of a :class:`~musicgate.nn.models.RecurrentLM` as the page reads them.

    ``bar_lines`` is the checkpoint's ``dataset.bar_lines`` (how many training tunes have each number of
    bar lines), from which the page draws each tune's bar plan, as ``musicgate generate`` does;
    ``bar_lines_by_meter`` (the checkpoint's ``dataset.bar_lines_by_meter``) the same per time signature.

    Returns
    -------
    dict
        ``name``, ``cell``, ``hidden``, ``layers``, ``embed``, ``vocab_size``, ``tensors`` (name,
        shape, offset in floats), ``keys`` (each KEY token's key name and its signature's pitch
        classes), ``tokenizer`` (its config and vocabulary) and ``data`` (the
        Float32 little-endian weights, base64). A model with form inputs
        (:class:`~musicgate.nn.models.FormInputs`) also has ``form`` (``buckets``, ``barline_ids``)
        and the tensors ``form.count.weight`` and ``form.left.weight``; other models have neither.
        Such a model given ``bar_lines`` also has ``barLines`` ({"17": tunes, ...}, counts of 0
        left out); without them (or without form inputs) the payload has none. Given ``bar_lines_by_meter``
        too, it has ``barLinesByMeter`` ({"6/8": [[bar lines, tunes], ...], ...}), the meters a plan is drawn
        from alone (:data:`~musicgate.generation.plans.MIN_METER_TUNES`), from which the page draws the plan of
        a tune in that meter.
        Given ``modes`` (the checkpoint's training tunes per key mode), a model with rare modes has
        ``modeNotes`` ({mode: the line ``generate`` prints, :func:`~musicgate.generation.api.rare_mode_note`}).
        Given ``register`` (the checkpoint's ``dataset.register``), ``register`` is its median pitch: the
        page moves each tune by octaves toward it, as ``generate`` does (:func:`~musicgate.generation.api.octave_shift`).
        ``dances`` ({"jig": {"meter": "6/8", "plan": [[bar lines, tunes], ...]}, ...}) are the dances of
        :data:`~musicgate.music.meters.DANCES` in the model's meters; a model with form inputs has each
        :data:`~musicgate.music.meters.dance_plan` as its ``plan``, drawn from when a dance is asked for.
        A model with lookback inputs (:mod:`musicgate.nn.lookback`) also has ``lookback`` (``bars``,
        the distances k; ``clock``, the vocabulary's clock tables; ``span``; ``runs``, ``position``
        and ``copy``, with ``copy_scale`` for the copy head) and the tensors ``look.table.weight``
        and ``look.proj.weight`` (then those of the options it has), after all others; other models
        have neither.

    Raises
    ------
    ConfigError
        A cell the page cannot run, a model without a melody tokenizer, or bar-line counts that are
        not {whole number >= 1: tunes >= 0}.
    """
    reason = unsupported(model, tokenizer)
    if reason:
        raise ConfigError(f"{name}: {reason}; give a melody model with one of those cells")
    cell = model.cell
    state = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    names = ["embed.weight"]
    for k in range(model.layers):
        names += [f"rnn.{w}_l{k}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    names += ["head.weight", "head.bias"]
    form = getattr(model, "form", None) if getattr(model, "has_form_inputs", False) else None
    if form is not None:
        names += ["form.count.weight", "form.left.weight"]
    look = getattr(model, "look", None) if getattr(model, "has_lookback", False) else None
    if look is not None:
        names += ["look.table.weight", "look.proj.weight"]
        names += ["look.run_table.weight", "look.run_proj.weight"] if look.runs else []
        names += ["look.pos.weight"] if look.position else []
        names += ["look.copy_state.weight", "look.copy_state.bias", "look.copy_run.weight"] if look.copy else []
    tensors, parts, offset = [], [], 0
    for n in names:
        a = np.ascontiguousarray(state[n], dtype="<f4")
        tensors.append({"name": n, "shape": list(a.shape), "offset": offset})
        parts.append(a.tobytes())
        offset += a.size
    keys = {tokenizer._keys[i].name: sorted(tokenizer._keys[i].pitch_classes)
            for i in range(tokenizer.key_unknown_id - tokenizer.key_base)}
    payload = {"name": name, "cell": cell, "hidden": model.hidden, "layers": model.layers, "keys": keys,
               "embed": model.embed_size, "vocab_size": model.vocab_size, "tensors": tensors,
               "tokenizer": {**tokenizer.config, "vocab": list(tokenizer.vocab)},
               "data": base64.b64encode(b"".join(parts)).decode("ascii")}
    if form is not None:
        payload["form"] = {"buckets": int(form.buckets), "barline_ids": [int(i) for i in form.barline_ids]}
        if bar_lines:
            payload["barLines"] = _bar_line_counts(bar_lines, name)
            by_meter = _meter_plans(bar_lines_by_meter or {}, tokenizer, name)
            if by_meter:
                payload["barLinesByMeter"] = by_meter
    from musicgate.generation.api import rare_mode_note
    from musicgate.music.keys import MODES

    if register:
        payload["register"] = float(register["median"])
    from musicgate.music.meters import DANCES, dance_plan, meter_name

    plan = lambda d: sorted([int(k), int(v)] for k, v in dance_plan(d).items())  # noqa: E731
    payload["dances"] = {d: {"meter": meter_name(m), **({"plan": plan(d)} if dance_plan(d) and form is not None else {})}
                         for d, m in DANCES.items() if tokenizer.meter_id(m) != tokenizer.meter_unknown_id}
    notes = {m: rare_mode_note(m, modes, name) for m in MODES}
    if any(notes.values()):
        payload["modeNotes"] = {m: n for m, n in notes.items() if n}
    if look is not None:
        from musicgate.nn.lookback import COPY_SCALE

        clock = {k: ([int(i) for i in v] if isinstance(v, (list, tuple)) else int(v)) for k, v in look.clock.items()}
        payload["lookback"] = {"bars": [int(k) for k in look.bars], "clock": clock, "span": int(look.span),
                               "runs": look.runs, "position": look.position, "copy": look.copy,
                               **({"copy_scale": COPY_SCALE} if look.copy else {})}
    if getattr(model, "has_tonic_frame", False):
        payload["tonic"] = [int(v) for v in model.frame.spec]
    return payload


def export_model(model, tokenizer, path: "str | os.PathLike", *, name: str, label: str | None = None,
                 units: Sequence[int] | None = None, bar_lines: dict | None = None,
                 modes: dict | None = None, register: dict | None = None,
                 bar_lines_by_meter: dict | None = None) -> Path:
    """Write ``path`` (``model-NAME.js``): a script that registers the model in ``MUSICGATE_MODELS``.

    ``label`` is shown in the page's model menu; ``units`` are the last-layer units the gate view
    draws (default: :func:`key_units`); ``bar_lines``: the checkpoint's bar-line counts
    (:func:`model_payload`), ``bar_lines_by_meter`` the same per time signature; ``modes``: its training
    tunes per key mode; ``register``: its training tunes' register (all :func:`model_payload`).
    """
    payload = model_payload(model, tokenizer, name=name, bar_lines=bar_lines, modes=modes, register=register,
                            bar_lines_by_meter=bar_lines_by_meter)
    payload["label"] = label or name
    payload["units"] = [int(u) for u in (key_units(model, tokenizer) if units is None else units)]
    text = ("window.MUSICGATE_MODELS = window.MUSICGATE_MODELS || {};\n"
            f"window.MUSICGATE_MODELS[{_js_string(name)}] = {_js_string(json.dumps(payload))};\n")
    return atomic_write_text(path, text)


def key_units(model, tokenizer, *, n: int = KEY_UNITS, length: int = 32, per_key: int = 2,
              seed: int = 0) -> list[int]:
    """The ``n`` last-layer units whose state best tells the key a tune was asked in.

    ``per_key`` tunes of ``length`` notes are sampled in each of the 24 major and minor keys and
    scored by :func:`musicgate.analysis.keykeeper.key_keepers` (the gallery's key keepers: a
    held-out, per-unit read-out of the key from the memory after each note). The gallery passes
    its own read-out instead (:func:`write_live` ``units``).
    """
    import torch

    from musicgate.analysis.keykeeper import key_keepers
    from musicgate.generation.sample import sample
    from musicgate.music.keys import Key
    from musicgate.nn.models import trace_gates
    from musicgate.viz.gates import memory_value, per_note

    keys = [Key(t, m) for m in ("major", "minor") for t in range(12)] * per_key
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ids = sample(model, tokenizer, keys=keys, length=length, exact=True, seed=seed, n_threads=1)
        batch = np.zeros((len(ids), max(len(r) for r in ids)), np.int64)
        for b, r in enumerate(ids):
            batch[b, :len(r)] = r  # padded on the right: the model is causal, the padding never read
        trace = trace_gates(model, batch)
    finally:
        torch.set_num_threads(threads)
    memory = getattr(trace, memory_value(trace.cell))[-1]
    states = [per_note(memory[b, :len(r)], tokenizer.note_index(r), how="last") for b, r in enumerate(ids)]
    notes = min(len(x) for x in states)
    kk = key_keepers(np.stack([x[:notes] for x in states]), [k.name for k in keys], top=n)
    return [int(u) for u in kk.units]


def _ogg(audio: np.ndarray, rate: int) -> bytes:
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, audio.astype(np.float32), rate, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def export_sounds(path: "str | os.PathLike", *, program: int = 0, pitches: Sequence[int] = SOUND_PITCHES,
                  sample_rate: int = SOUND_RATE, seconds: float = SOUND_SECONDS) -> Path:
    """Write ``path`` (``sounds.js``): one note of General MIDI ``program`` at each of ``pitches``.

    The notes are rendered together with :func:`musicgate.music.audio.render` (one call, notes far
    apart), cut apart, scaled together so the loudest peaks at 0.9, and stored as base64 Ogg Vorbis.
    """
    from musicgate.music.audio import render
    from musicgate.music.notes import Notes

    gap = 2.0 * (seconds + 1.0)  # beats between notes at 120 per minute: the note and its tail
    n = len(pitches)
    notes = Notes.from_arrays(list(pitches), [i * gap for i in range(n)], [seconds * 2.0] * n,
                              [100] * n, program=[program] * n)
    audio = render(notes, sample_rate=sample_rate, mono=True, normalized=False)
    per = int(round(gap / 2.0 * sample_rate))
    keep = int(round((seconds + 0.5) * sample_rate))
    audio = np.pad(audio, (0, max(0, per * n - len(audio))))
    cuts = [audio[i * per:i * per + keep] for i in range(n)]
    peak = max(float(np.abs(c).max()) for c in cuts) or 1.0
    fade = np.linspace(1.0, 0.0, int(0.05 * sample_rate))
    data = {}
    for p, c in zip(pitches, cuts):
        c = c * (0.9 / peak)
        c[-len(fade):] *= fade
        data[str(int(p))] = base64.b64encode(_ogg(c, sample_rate)).decode("ascii")
    payload = {"program": int(program), "rate": sample_rate, "seconds": seconds, "format": "ogg", "notes": data}
    return atomic_write_text(path, f"window.MUSICGATE_SOUNDS = {json.dumps(payload)};\n")


def copy_scripts(folder: "str | os.PathLike") -> list[Path]:
    """Copy the page's JavaScript into ``folder``; returns the copies."""
    folder = Path(folder)
    out = []
    for name in SCRIPTS:
        out.append(atomic_write_text(folder / name, (script_dir() / name).read_text(encoding="utf-8")))
    return out


def section_html(models: Sequence[tuple[str, str]], *, folder: str = LIVE, left_out: Sequence[str] = ()) -> str:
    """The "Make a new tune" section for ``models`` ((name, file) pairs), its scripts included;
    ``left_out`` are one-line reasons for models the page cannot run, shown under the panel.

    The panel says what went wrong until ``player.js`` has started it, so a page without its
    ``live/`` folder, or without JavaScript, shows a message instead of an empty box.
    """
    from musicgate.generation.api import DEFAULT_MODEL

    e = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    models = sorted(models, key=lambda m: m[0] != DEFAULT_MODEL)  # the panel starts on generate's default
    names = json.dumps([n for n, _ in models])
    scripts = [f"{folder}/{f}" for _, f in models] + [f"{folder}/sounds.js"] + [f"{folder}/{s}" for s in SCRIPTS]
    tags = "\n".join(f'<script src="{e(s)}"></script>' for s in scripts)
    return f"""<section id="live" data-models="{e(names)}" data-folder="{e(folder)}">
<style>{CSS}</style>
<h2>Make a new tune</h2>
<p class="lead">The models run here, in this page, with nothing from the internet: pick a model, a key and
how adventurous it may be, and press Generate. The new tune is drawn and played; under it, the memory of a
few of the model's units lights up note by note as it plays.</p>
<div id="live-panel"><p class="warn" id="live-message">The live generator did not start: its files in the
{e(folder)}/ folder beside this page are missing, or JavaScript is off. Build the page again with
<code>musicgate gallery</code> and open it with JavaScript on.</p></div>
{"".join(f'<p class="warn">{e(x)}</p>' for x in left_out)}
{tags}
</section>"""


def standalone_page(outdir: "str | os.PathLike", section: str, *, title: str = "musicgate: make a new tune") -> Path:
    """Write ``outdir/live.html``: the live section alone on a page (for trying it, and for tests)."""
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<style>body{font-family:system-ui,sans-serif;max-width:1400px;margin:0 auto;padding:1rem}'
            f'.warn{{color:#a33}}</style></head><body>{section}</body></html>')
    return atomic_write_text(Path(outdir) / "live.html", page)


def write_live(outdir: "str | os.PathLike", loaded: Sequence[tuple], *, program: int = 0,
               units: dict | None = None) -> str:
    """Write the ``live/`` folder into ``outdir`` for ``loaded`` models; returns the section's HTML.

    Parameters
    ----------
    outdir : path
        The page's folder.
    loaded : list of (model, tokenizer, meta)
        As :func:`musicgate.nn.hub.load_model` returns them (``meta["name"]`` names the file;
        ``meta["dataset"]["bar_lines"]``, when the checkpoint has it, is what the page draws a model's
        bar plans from).
        Models the page cannot run (other cells, event vocabularies) are left out, and the section
        says so.
    program : int
        General MIDI program of the page's instrument (0: acoustic grand piano).
    units : dict, optional
        Model name -> the last-layer units its gate view draws, best first (the gallery passes its
        key keepers); models not in it get :func:`key_units`.

    Returns
    -------
    str
        The section, or "" when no model can run in the page.
    """
    folder = Path(outdir) / LIVE
    folder.mkdir(parents=True, exist_ok=True)
    written, left_out = [], []
    for model, tok, meta in loaded:
        name = meta["name"]
        reason = unsupported(model, tok)
        if reason:
            left_out.append(f"Not in the live panel: {name} ({reason}).")
            continue
        export_model(model, tok, folder / f"model-{name}.js", name=name, label=name,
                     units=(units or {}).get(name), bar_lines=(meta.get("dataset") or {}).get("bar_lines"),
                     modes=(meta.get("dataset") or {}).get("modes"),
                     register=(meta.get("dataset") or {}).get("register"),
                     bar_lines_by_meter=(meta.get("dataset") or {}).get("bar_lines_by_meter"))
        written.append((name, f"model-{name}.js"))
    if not written:
        shutil.rmtree(folder, ignore_errors=True)
        return ""
    export_sounds(folder / "sounds.js", program=program)
    copy_scripts(folder)
    return section_html(written, left_out=left_out)


__all__ = ["LIVE", "SCRIPTS", "CELLS", "script_dir", "unsupported", "model_payload", "export_model", "key_units",
           "export_sounds", "copy_scripts", "section_html", "standalone_page", "write_live"]
