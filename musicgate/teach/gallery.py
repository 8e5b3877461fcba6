"""The classroom gallery: one static HTML page to listen to RNN, LSTM and GRU samples and see
what their gates do.

:func:`build_gallery` samples each model in a few keys, and for each (model, key) writes

- the sample as MIDI, MusicXML (with its key signature) and WAV (rendered with a General MIDI
  soundfont, :mod:`musicgate.music.audio`),
- a picture of its piano roll (notes outside the target key signature marked) over its key curve
  (windowed key estimates and their confidence),
- its gate view (:func:`musicgate.viz.gates.gate_view`: the model's gates while it plays the sample),

plus half-life and saturation figures across the models, ``gallery.json`` with every number, and
``index.html``: no server, nothing fetched from the network, relative links only, so it opens
from ``file://`` and can be copied as one folder. The comparison of the cells on the page is
written from the measured numbers (:mod:`musicgate.teach.text`).

Every file is written atomically, and ``index.html`` last: a stopped run never leaves a page that
points at files that are not there.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from musicgate.errors import CheckpointError, ConfigError, MidiError
from musicgate.music.keys import Key, parse_key
from musicgate.nn.cells import get_cell
from musicgate.teach.page import MEDIA, WINDOW, write_page
from musicgate.teach.text import CellNumbers

DEFAULT_KEYS = ("D major", "A minor", "G mixolydian")
"""Keys of the gallery: a major key, a minor key and a mode (all common in folk tunes)."""
DEFAULT_LENGTH = 128
"""Notes per sample (about a minute of music at the models' usual tempo)."""
AUDIO_RATE = 22050
"""Sample rate of the gallery's WAV files (mono): small files that every browser plays."""


@dataclass
class SampleEntry:
    """One (model, key) cell of the gallery: the sample shown and the numbers of all samples."""

    label: str
    cell: str
    key: Key
    notes: int
    seconds: float
    files: dict
    in_signature: list
    agreement: list
    shown_in_signature: float
    shown_agreement: float
    errors: list = field(default_factory=list)


def no_models_message() -> str:
    """The one-line error for a gallery without models, saying how to get them."""
    from musicgate.nn.hub import SHIPPED_MODELS, pretrained_dir

    return (f"no models for the gallery: the shipped models ({', '.join(SHIPPED_MODELS)}) are not installed "
            f"in {pretrained_dir()}; reinstall musicgate with its models, or train and export them "
            "('bash scripts/train_shipped.sh lstm', or 'musicgate train configs/folk-lstm.yaml' then "
            "'musicgate export RUN folk-lstm'), or give checkpoints with --model PATH")


def resolve_models(models: Sequence[str] | None) -> list[str]:
    """The model specs to show: the given ones, else the shipped models that are installed.

    Raises
    ------
    CheckpointError
        No models at all (the message says how to get them).
    """
    from musicgate.nn.hub import SHIPPED_MODELS, shipped_models

    if models is None:
        installed = set(shipped_models())
        chosen = [m for m in SHIPPED_MODELS if m in installed]
    else:
        chosen = [os.fspath(m) for m in models]
    if not chosen:
        raise CheckpointError(no_models_message())
    return chosen


def models_index_entry(meta: dict) -> dict:
    """The ``models.json`` entry of a checkpoint (written by ``musicgate export`` beside it), or {}."""
    path = meta.get("path")
    if not path:
        return {}
    index = Path(path).parent / "models.json"
    if not index.is_file():
        return {}
    try:
        data = json.loads(index.read_text())
    except (OSError, ValueError) as exc:
        warnings.warn(f"{index}: unreadable ({exc}); validation NLL left out", RuntimeWarning, stacklevel=2)
        return {}
    entry = data.get(Path(path).stem) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else {}


def _check_outdir(outdir: Path) -> Path:
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{outdir}: exists and is not a folder; give another -o folder")
    (outdir / MEDIA).mkdir(parents=True, exist_ok=True)
    return outdir


def _check_args(keys, length: int, num: int, max_steps: int) -> list[Key]:
    from musicgate.generation.api import _check_int

    _check_int("length", length, 1)
    _check_int("num", num, 1)
    _check_int("max_steps", max_steps, 4)
    parsed = [parse_key(k) for k in keys]
    if not parsed:
        raise ConfigError("keys is empty: give at least one key for the gallery (e.g. 'D major')")
    if len(set(parsed)) != len(parsed):
        raise ConfigError(f"keys repeat: {', '.join(k.name for k in parsed)}; give each key once")
    return parsed


def roll_and_key_curve(notes, key: Key, path: "str | os.PathLike", *, title: str,
                       window: int = WINDOW) -> Path:
    """Piano roll (out-of-signature notes marked) over the key curve of ``window``-note windows.

    The key curve puts each window at the onset of its middle note (beats), coloured by its
    estimated key, with the correlation as confidence; a green band marks windows whose key is
    the target (a mode counts as the major or minor key with its third). Saved as a 10 x 4.6
    inch PNG at 100 dpi.
    """
    from musicgate.analysis.keyfind import windowed_keys
    from musicgate.music.keys import to_major_minor
    from musicgate.viz.plots import key_strip, new_figure, piano_roll, save_figure

    fig = new_figure(10.0, 4.6)
    grid = fig.add_gridspec(2, 1, height_ratios=(3.2, 1.0), hspace=0.08)
    roll = fig.add_subplot(grid[0])
    strip = fig.add_subplot(grid[1], sharex=roll)
    piano_roll(roll, notes, key=key, title=title)
    roll.tick_params(labelbottom=False)
    roll.set_xlabel("")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wk = windowed_keys(notes.pitch, notes.duration, notes.onset, window=window, stride=1)
    if len(notes) and wk.valid.any():
        mid = (wk.start[wk.valid] + np.maximum(wk.end[wk.valid] - 1, wk.start[wk.valid])) // 2
        times = notes.onset[mid]
        keep = np.r_[True, np.diff(times) > 0]  # chords: one window per onset
        key_strip(strip, times[keep], wk.key[wk.valid][keep], wk.correlation[wk.valid][keep],
                  target=to_major_minor(key))
    else:
        key_strip(strip, np.zeros(0), np.zeros(0, int), np.zeros(0))
    strip.set_xlabel(f"beat (key of the {window}-note window centred there)")
    roll.set_xlim(0.0, max(notes.end, 1.0))
    fig.subplots_adjust(left=0.07, right=0.8, top=0.92, bottom=0.11)
    return save_figure(fig, path)


def _measure(notes_list, key: Key, window: int) -> tuple[list[float], list[float]]:
    """Per sample: in-signature rate by count and key agreement of its windows."""
    from musicgate.analysis.analyze import analyze_notes

    sig, agree = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for notes in notes_list:
            res = analyze_notes(notes, key=key, window=window)
            sig.append(float(res.in_signature.by_count))
            agree.append(float(res.window_agreement))
    return sig, agree


def _write_sample(notes, stem: str, media: Path, key: Key, title: str, errors: list) -> tuple[dict, float]:
    """MIDI, WAV, MusicXML and the roll picture of one sample; returns files and audio seconds."""
    from musicgate.music.audio import render, write_wav
    from musicgate.music.midi import write_midi
    from musicgate.music.score import write_musicxml

    files = {"midi": write_midi(notes, media / f"{stem}.mid").name}
    audio = render(notes, sample_rate=AUDIO_RATE, mono=True)
    files["wav"] = write_wav(media / f"{stem}.wav", audio, AUDIO_RATE).name
    try:
        files["musicxml"] = write_musicxml(notes, media / f"{stem}.musicxml").name
    except MidiError as exc:  # music21 refuses some notation: the page says so, the rest goes on
        errors.append(f"MusicXML not written: {exc}")
        warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
    files["roll"] = roll_and_key_curve(notes, key, media / f"{stem}_roll.png", title=title).name
    return files, len(audio) / AUDIO_RATE


def _trace(model, tokenizer, ids: np.ndarray, key: Key, path: Path, title: str):
    """The gate view of ``model`` playing ``ids``; returns the trace."""
    import torch

    from musicgate.viz.gates import gate_view, note_steps_from_tokens
    from musicgate.nn.models import trace_gates

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a step-by-step loop of small products: one thread is fastest
    try:
        trace = trace_gates(model, ids[None, :])
    finally:
        torch.set_num_threads(threads)
    gate_view(trace, tokenizer.decode(ids), path=path, note_steps=note_steps_from_tokens(tokenizer, ids),
              tokens=[tokenizer.vocab[i] for i in ids], key=key, title=title)
    return trace


def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="gallery", unit="piece", disable=quiet or not sys.stderr.isatty())


def build_gallery(outdir: "str | os.PathLike", *, models: Sequence[str] | None = None,
                  keys: Sequence["str | Key"] = DEFAULT_KEYS, length: int = DEFAULT_LENGTH, num: int = 4,
                  seed: int = 0, max_steps: int = 256, retention: "str | os.PathLike | None" = None,
                  quiet: bool = False) -> Path:
    """Write the classroom gallery into ``outdir``; returns the path of ``index.html``.

    Parameters
    ----------
    outdir : path
        Gets ``index.html``, ``gallery.json`` and ``media/`` (MIDI, WAV, MusicXML, PNG).
    models : list of str, optional
        Shipped model names or checkpoint paths (default: the shipped ``folk-rnn``,
        ``folk-lstm`` and ``folk-gru`` that are installed).
    keys : list of key names
        One sample shown per model and key.
    length : int
        Notes per sample.
    num : int
        Samples generated per model and key; the first is shown, the numbers on the page are
        measured over all of them.
    seed : int
        Seed of the first key's samples (key ``i`` uses ``seed + i``).
    max_steps : int
        Tokens shown in each gate view (the start of the sample).
    retention : path, optional
        A folder written by the retention experiment; its curves and findings go on the page.
    quiet : bool
        No progress bar.

    Raises
    ------
    CheckpointError
        No models (the message says how to get them) or a model that cannot be loaded.
    AudioError
        No soundfont or synthesizer to render the WAV files.
    """
    from musicgate.analysis.gatestats import gate_saturation, keep_gate, memory_half_life
    from musicgate.generation.api import check_audio, generate_run, key_slug
    from musicgate.nn.hub import load_model
    from musicgate.viz.gates import half_life_figure, saturation_figure

    key_list = _check_args(keys, length, num, max_steps)
    specs = resolve_models(models)
    notes = []
    if models is None and len(specs) < 3:
        from musicgate.nn.hub import SHIPPED_MODELS

        notes.append(f"Not installed, so not shown: {', '.join(m for m in SHIPPED_MODELS if m not in specs)}.")
    if retention is not None and not (Path(retention) / "report.md").is_file():
        raise ConfigError(f"{retention}: not a retention run folder (no report.md); give a folder written by "
                          "'musicgate experiment retention'")
    check_audio()
    loaded = [load_model(spec) for spec in specs]  # every model is checked before anything is written
    taken: set = set()
    for (net, tok, meta), spec in zip(loaded, specs):
        if not hasattr(net, "embed") or tok is None:
            raise CheckpointError(f"{spec}: the gallery needs a token language model saved with its tokenizer")
        base, n = meta["name"], 2
        while meta["name"] in taken:  # two checkpoints with one name: keep their files apart
            meta["name"], n = f"{base}-{n}", n + 1
        taken.add(meta["name"])
    outdir = _check_outdir(Path(outdir))
    media = outdir / MEDIA
    clock = {"sampling": 0.0, "files": 0.0, "gates": 0.0}
    entries: list[SampleEntry] = []
    numbers: list[CellNumbers] = []
    saturation: dict = {}
    start = time.perf_counter()
    with _progress(len(loaded) * len(key_list), quiet) as bar:
        for (net, tok, meta) in loaded:
            label, cell = meta["name"], net.cell
            info = models_index_entry(meta)
            nums = CellNumbers(label=label, cell=cell, params=info.get("params") or _count(net),
                               nll_per_note=info.get("valid_nll_per_note"))
            keeps, gates = [], {}
            for k, key in enumerate(key_list):
                bar.set_postfix_str(f"{label} {key.name}")
                t0 = time.perf_counter()
                run = generate_run((net, tok, meta), key=key, exact_length=length, num=num, seed=seed + k)
                t1 = time.perf_counter()
                sig, agree = _measure(run.notes, key, WINDOW)
                stem = f"{label}_{key_slug(key)}"
                title = f"{label} in {key.name} (seed {run.seed})"
                errors: list[str] = []
                files, seconds = _write_sample(run.notes[0], stem, media, key, title, errors)
                t2 = time.perf_counter()
                ids = np.asarray(run.ids[0])[:max_steps]
                trace = _trace(net, tok, ids, key, media / f"{stem}_gates.png",
                               f"{label}: {get_cell(cell).label} gates while playing its {key.name} sample "
                               f"(first {len(ids)} tokens)")
                files["gates"] = f"{stem}_gates.png"
                keep = keep_gate(trace)
                if keep is not None:
                    keeps.append(keep[-1].reshape(-1, keep.shape[-1]))
                for gate in trace.sigmoid:  # last layer, every step of every shown sample
                    values = getattr(trace, gate)[-1]
                    gates.setdefault(gate, []).append(values.reshape(-1, values.shape[-1]))
                clock["sampling"] += t1 - t0
                clock["files"] += t2 - t1
                clock["gates"] += time.perf_counter() - t2
                entries.append(SampleEntry(label, cell, key, len(run.notes[0]), seconds, files, sig, agree,
                                           sig[0], agree[0], errors))
                nums.in_signature = np.r_[nums.in_signature, sig]
                nums.agreement = np.r_[nums.agreement, agree]
                bar.update(1)
                if not quiet and not sys.stderr.isatty():
                    print(f"gallery: {label} in {key.name} done ({time.perf_counter() - start:.0f} s)",
                          file=sys.stderr)
            nums.half_lives = memory_half_life(np.concatenate(keeps)) if keeps else np.zeros(0)
            saturation[nums.name] = gate_saturation({g: np.concatenate(v) for g, v in gates.items()})
            nums.saturation = {g: s["low_share"] + s["high_share"] for g, s in saturation[nums.name].items()}
            numbers.append(nums)
    t3 = time.perf_counter()
    figures = {
        "half_life": half_life_figure({n.name: n.half_lives for n in numbers},
                                      path=media / "half_life.png").name,
        "saturation": saturation_figure(saturation, path=media / "saturation.png").name,
    }
    clock["gates"] += time.perf_counter() - t3
    clock["total"] = time.perf_counter() - start
    settings = {"models": specs, "keys": [k.name for k in key_list], "length": int(length), "num": int(num),
                "seed": int(seed), "max_steps": int(max_steps), "window": WINDOW}
    return write_page(outdir, entries=entries, numbers=numbers, figures=figures, settings=settings,
                      retention=None if retention is None else Path(retention), seconds=clock, notes=notes)


def _count(net) -> int:
    return int(sum(p.numel() for p in net.parameters()))
