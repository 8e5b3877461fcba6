"""The classroom gallery: one static HTML page to listen to RNN, LSTM and GRU samples and see
what their gates do.

:func:`build_gallery` samples each model in a few keys, and for each (model, key) writes

- the sample as MIDI, MusicXML (with its key signature) and WAV (rendered with a General MIDI
  soundfont, :mod:`musicgate.music.audio`),
- a picture of its piano roll (notes outside the target key signature marked) over its key curve
  (windowed key estimates and their confidence), one column per note with bar lines,
- its gate view (:func:`musicgate.viz.gates.note_gate_view`: the model's gates while it plays the
  whole sample, one column per note, on the same note axis),

and for each model its key keepers (:mod:`musicgate.analysis.keykeeper`, measured over every tune
of every key; picture :mod:`musicgate.viz.keykeeper`), plus half-life and saturation figures across
the models, the speech part when a speech run is given (:mod:`musicgate.teach.speechpart`), a
``live/`` folder with the models' weights, instrument notes and JavaScript (:mod:`musicgate.teach.live`)
so a student can make new tunes in the page itself, ``gallery.json`` with every number, and
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
from musicgate.teach.live import KEY_UNITS, write_live
from musicgate.teach.page import MEDIA, WINDOW, write_page
from musicgate.teach.text import CellNumbers

DEFAULT_KEYS = ("D major", "A minor", "G mixolydian")
"""Keys of the gallery: a major key, a minor key and a mode (all common in folk music; the mode is rare in
the folk corpus, 44 of its 9,178 training tunes, so the samples show how a model does in a key it barely saw)."""
DEFAULT_LENGTH = 128
"""Most notes of a tune heard (the model ends it, as ``musicgate generate``); the tunes the numbers are
measured on have exactly this many (about a minute of music at the models' usual tempo)."""
AUDIO_RATE = 22050
"""Sample rate of the gallery's WAV files (mono): small files that every browser plays."""


@dataclass
class SampleEntry:
    """One (model, key) cell of the gallery: the tune heard and the numbers of the study's tunes."""

    label: str
    cell: str
    key: Key
    notes: int
    seconds: float
    files: dict
    in_signature: list
    agreement: list
    heard_in_signature: float
    heard_agreement: float
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


def _check_args(keys, length: int, num: int) -> list[Key]:
    from musicgate.generation.api import _check_int

    _check_int("length", length, 1)
    _check_int("num", num, 1)
    parsed = [parse_key(k) for k in keys]
    if not parsed:
        raise ConfigError("keys is empty: give at least one key for the gallery (e.g. 'D major')")
    if len(set(parsed)) != len(parsed):
        raise ConfigError(f"keys repeat: {', '.join(k.name for k in parsed)}; give each key once")
    return parsed


def roll_and_key_curve(notes, key: Key, path: "str | os.PathLike", *, title: str,
                       window: int = WINDOW) -> Path:
    """Piano roll on the note axis (out-of-signature notes marked, bar lines) over the key curve of
    ``window``-note windows, on the same axis.

    The key curve puts each window at its middle note, coloured by how its estimated key relates to
    the target (a mode counts as the major or minor key with its third: dark blue the target, light
    and hatched a neighbour key, pale a farther one), with the correlation as confidence. Saved as
    a 12 x 4.8 inch PNG at 100 dpi.
    """
    from musicgate.analysis.keyfind import windowed_keys
    from musicgate.viz.plots import key_strip, new_figure, note_roll, save_figure

    fig = new_figure(12.0, 4.8)
    grid = fig.add_gridspec(2, 1, height_ratios=(3.0, 1.0), hspace=0.1)
    roll = fig.add_subplot(grid[0])
    strip = fig.add_subplot(grid[1], sharex=roll)
    note_roll(roll, notes, key=key, title=title)
    roll.tick_params(labelbottom=False)
    roll.set_xlabel("")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wk = windowed_keys(notes.pitch, notes.duration, notes.onset, window=window, stride=1)
    if len(notes) and wk.valid.any():
        mid = (wk.start[wk.valid] + np.maximum(wk.end[wk.valid] - 1, wk.start[wk.valid])) / 2.0
        keep = np.r_[True, np.diff(mid) > 0]
        # the first window holds the notes before its middle, the last those after it: the strip spans the tune
        times = np.r_[-0.5, mid[keep][1:] - 0.5]
        key_strip(strip, times, wk.key[wk.valid][keep], wk.correlation[wk.valid][keep], target=key,
                  end=max(len(notes) - 0.5, times[-1] + 1.0))  # a mode: "target G mixolydian, heard as G major"
    else:
        key_strip(strip, np.zeros(0), np.zeros(0, int), np.zeros(0))
    strip.set_xlabel(f"note (the key heard in the {window} notes around each note; near the start and the end, "
                     f"in the first and the last {window})", fontsize=11)
    legend = strip.get_legend()
    if legend is not None:  # under the picture, large enough to read at page width
        handles = legend.legend_handles if hasattr(legend, "legend_handles") else legend.legendHandles
        labels = [t.get_text() for t in legend.get_texts()]
        legend.remove()
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=10, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    roll.set_xlim(-0.5, max(len(notes), 1) - 0.5)
    roll.title.set_fontsize(12)
    fig.subplots_adjust(left=0.065, right=0.985, top=0.93, bottom=0.2)
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
    """MIDI, WAV, MusicXML, ABC and the roll picture of one sample; returns files and audio seconds."""
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
    try:
        from musicgate.music.abcwrite import write_abc

        files["abc"] = write_abc(notes, media / f"{stem}.abc", titles=[title]).name
    except MidiError as exc:  # several voices at once: ABC is written for one line of melody
        errors.append(f"ABC not written: {exc}")
    files["roll"] = roll_and_key_curve(notes, key, media / f"{stem}_roll.png", title=title).name
    return files, len(audio) / AUDIO_RATE


def _trace_all(model, ids_list: list) -> "object":
    """The gates of ``model`` on every tune at once (padded on the right: the padding is never read
    back, the model being causal)."""
    import torch

    from musicgate.nn.models import trace_gates

    batch = np.zeros((len(ids_list), max(len(r) for r in ids_list)), np.int64)
    for b, r in enumerate(ids_list):
        batch[b, :len(r)] = r
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a step-by-step loop of small products: one thread is fastest
    try:
        return trace_gates(model, batch)
    finally:
        torch.set_num_threads(threads)


def _row(trace, b: int, length: int):
    """Tune ``b`` of a batched trace, without its padding."""
    from musicgate.nn.models import GateTrace

    cut = lambda a: a[:, b:b + 1, :length]  # noqa: E731
    return GateTrace(cell=trace.cell, h=cut(trace.h), gates={k: cut(v) for k, v in trace.gates.items()},
                     keep=trace.keep, sigmoid=trace.sigmoid)


@dataclass
class _Traced:
    """Per key, what the pictures and numbers need from the traces of its tunes."""

    states: np.ndarray  # (N, n, H) memory value per note of the study's tunes
    keep: np.ndarray | None  # (n, H) the first study tune's keep gate per note
    steps: dict  # gate name -> (steps, H) every real step of every study tune, last layer


def _trace_key(model, tokenizer, heard_ids, notes, ids_list: list, key: Key, path: Path, title: str) -> _Traced:
    """Trace the tune heard and the study's tunes of one key at once; draw the gate view of the tune heard
    on the note axis."""
    from musicgate.viz.gates import memory_value, note_gate_view, per_note

    rows = [heard_ids, *ids_list]
    trace = _trace_all(model, rows)
    index = [tokenizer.note_index(r) for r in rows]
    note_gate_view(_row(trace, 0, len(heard_ids)), notes, index[0], path=path, key=key, title=title)
    mem = getattr(trace, memory_value(trace.cell))[-1]
    states = [per_note(mem[b, :len(r)], index[b], how="last") for b, r in enumerate(rows)]
    n = min(len(x) for x in states[1:])
    keep = None if trace.keep is None else per_note(getattr(trace, trace.keep)[-1, 1, :len(rows[1])], index[1])
    steps = {g: np.concatenate([getattr(trace, g)[-1, b, :len(r)] for b, r in enumerate(rows) if b])
             for g in trace.sigmoid}
    return _Traced(np.stack([x[:n] for x in states[1:]]), keep, steps)


def _keepers(label: str, cell: str, key_list: list, traced: dict, shown, media: Path):
    """The key-keeper read-out over every tune of every key, and its picture for the first key."""
    from musicgate.analysis.keykeeper import key_keepers
    from musicgate.viz.gates import memory_value
    from musicgate.viz.keykeeper import keykeeper_figure

    if len(key_list) < 2 or min(len(t.states) for t in traced.values()) < 2:
        return None, None
    n = min(t.states.shape[1] for t in traced.values())
    states = {k.name: traced[k.name].states[:, :n] for k in key_list}
    labels = [k for k, s in states.items() for _ in range(len(s))]
    kk = key_keepers(np.concatenate(list(states.values())), labels)
    first = key_list[0].name
    keep = traced[first].keep  # the picture: under the first study tune, all its notes
    path = keykeeper_figure(shown[:n] if len(shown) > n else shown, cell=cell, key=first, units=kk.units,
                            accuracy=kk.accuracy, states=states, keep=None if keep is None else keep[:n],
                            path=media / f"{label}_keykeeper.png", chance=kk.chance, memory=memory_value(cell),
                            title=f"{label}: the {len(kk.units)} units whose state best tells the key")
    return kk, path.name


def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="gallery", unit="piece", disable=quiet or not sys.stderr.isatty())


def build_gallery(outdir: "str | os.PathLike", *, models: Sequence[str] | None = None,
                  keys: Sequence["str | Key"] = DEFAULT_KEYS, length: int = DEFAULT_LENGTH, num: int = 4,
                  seed: int = 0, retention: "str | os.PathLike | None" = None,
                  speech: "str | os.PathLike | None" = None, speech_clips: Sequence["str | os.PathLike"] = (),
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
        One tune heard per model and key.
    length : int
        Most notes of a tune heard, which is drawn as :func:`musicgate.generation.api.generate` draws
        it (the model ends it); the study's tunes have exactly this many.
    num : int
        Study tunes per model and key (plain sampling, exactly ``length`` notes, as the retention
        study draws them): the page's numbers, the gate statistics and the key keepers come from them.
    seed : int
        Seed of the first key's samples (key ``i`` uses ``seed + i``).
    retention : path, optional
        A folder written by the retention experiment; its curves and findings go on the page.
    speech : path, optional
        A speech run folder (``musicgate speech train -o RUN``): a clip's log-mel, its gates and the
        digit guessed as it streams go on the page (see :mod:`musicgate.teach.speechpart`). Without
        one the page says how to make one.
    speech_clips : paths
        WAV clips for the speech part (default: one taken from the run's own data when it can be
        read or made here).
    quiet : bool
        No progress bar.

    Raises
    ------
    CheckpointError
        No models (the message says how to get them) or a model that cannot be loaded.
    AudioError
        No soundfont or synthesizer to render the WAV files.
    """
    from musicgate.analysis.gatestats import gate_saturation, memory_half_life
    from musicgate.generation.api import check_audio, generate_run, key_slug
    from musicgate.nn.hub import load_model
    from musicgate.teach.speechpart import check_speech
    from musicgate.viz.gates import half_life_figure, saturation_figure

    key_list = _check_args(keys, length, num)
    specs = resolve_models(models)
    notes = []
    if models is None and len(specs) < 3:
        from musicgate.nn.hub import SHIPPED_MODELS

        notes.append(f"Not installed, so not shown: {', '.join(m for m in SHIPPED_MODELS if m not in specs)}.")
    if retention is not None and not (Path(retention) / "report.md").is_file():
        raise ConfigError(f"{retention}: not a retention run folder (no report.md); give a folder written by "
                          "'musicgate experiment retention'")
    check_audio()
    speech_part = check_speech(speech, speech_clips)  # a bad run folder fails before any work
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
    keeper_files: dict = {}
    start = time.perf_counter()
    with _progress(len(loaded) * len(key_list), quiet) as bar:
        for (net, tok, meta) in loaded:
            label, cell = meta["name"], net.cell
            info = models_index_entry(meta)
            nums = CellNumbers(label=label, cell=cell, params=info.get("params") or _count(net),
                               nll_per_note=info.get("valid_nll_per_note"),
                               tonic_frame=bool(getattr(net, "has_tonic_frame", False)))
            traced: dict = {}
            shown = None
            for k, key in enumerate(key_list):
                bar.set_postfix_str(f"{label} {key.name}")
                t0 = time.perf_counter()
                # the tune the class hears, drawn as `musicgate generate` draws it: the model ends it
                tune = generate_run((net, tok, meta), key=key, length=length, num=1, seed=seed + k)
                # the numbers: plain sampling, exactly `length` notes, as the retention study measures the models
                study = generate_run((net, tok, meta), key=key, exact_length=length, num=num, seed=seed + k,
                                     temperature=1.0, min_p=None)
                t1 = time.perf_counter()
                sig, agree = _measure(study.notes, key, WINDOW)
                (heard_sig,), (heard_agree,) = _measure(tune.notes, key, WINDOW)
                stem = f"{label}_{key_slug(key)}"
                title = f"{label} in {key.name} (seed {tune.seed})"
                errors: list[str] = []
                files, seconds = _write_sample(tune.notes[0], stem, media, key, title, errors)
                t2 = time.perf_counter()
                traced[key.name] = _trace_key(
                    net, tok, np.asarray(tune.ids[0]), tune.notes[0], [np.asarray(r) for r in study.ids], key,
                    media / f"{stem}_gates.png",
                    f"{label}: its {get_cell(cell).label} {'gates' if get_cell(cell).gated else 'memory'} while it "
                    f"plays its {key.name} tune ({len(tune.notes[0])} notes)")
                files["gates"] = f"{stem}_gates.png"
                shown = study.notes[0] if shown is None else shown
                clock["sampling"] += t1 - t0
                clock["files"] += t2 - t1
                clock["gates"] += time.perf_counter() - t2
                entries.append(SampleEntry(label, cell, key, len(tune.notes[0]), seconds, files, sig, agree,
                                           heard_sig, heard_agree, errors))
                nums.in_signature = np.r_[nums.in_signature, sig]
                nums.agreement = np.r_[nums.agreement, agree]
                bar.update(1)
                if not quiet and not sys.stderr.isatty():
                    print(f"gallery: {label} in {key.name} done ({time.perf_counter() - start:.0f} s)",
                          file=sys.stderr)
            t3 = time.perf_counter()
            steps = {g: np.concatenate([t.steps[g] for t in traced.values()]) for g in get_cell(cell).sigmoid_gates}
            keep_name = get_cell(cell).keep_gate
            nums.half_lives = memory_half_life(steps[keep_name]) if keep_name in steps else np.zeros(0)
            saturation[nums.name] = gate_saturation(steps)
            nums.saturation = {g: s["low_share"] + s["high_share"] for g, s in saturation[nums.name].items()}
            nums.keepers, keeper_files[label] = _keepers(label, cell, key_list, traced, shown, media)
            numbers.append(nums)
            clock["gates"] += time.perf_counter() - t3
    t3 = time.perf_counter()
    figures = {
        "half_life": half_life_figure({n.name: n.half_lives for n in numbers},
                                      path=media / "half_life.png").name,
        "saturation": saturation_figure(saturation, path=media / "saturation.png").name,
    }
    clock["gates"] += time.perf_counter() - t3
    t4 = time.perf_counter()
    speech_view = speech_part.build(media) if speech_part is not None else None
    clock["speech"] = time.perf_counter() - t4
    t5 = time.perf_counter()
    keepers = {n.label: np.argsort(-n.keepers.accuracy, kind="stable")[:KEY_UNITS].tolist()
               for n in numbers if n.keepers is not None}  # the key keepers first, as the page shows them
    live_html = write_live(outdir, loaded, units=keepers)
    clock["live"] = time.perf_counter() - t5
    clock["total"] = time.perf_counter() - start
    settings = {"models": specs, "keys": [k.name for k in key_list], "length": int(length), "num": int(num),
                "seed": int(seed), "window": WINDOW,
                "heard": "one tune per model and key, as musicgate generate draws it (the model ends it; at most "
                         "length notes)",
                "study": "num tunes per model and key of exactly length notes, plain sampling (temperature 1, "
                         "no min-p): the numbers, gate statistics and key keepers"}
    return write_page(outdir, entries=entries, numbers=numbers, figures=figures, settings=settings,
                      retention=None if retention is None else Path(retention), seconds=clock, notes=notes,
                      keepers=keeper_files, speech=speech_view, live_section=live_html)


def _count(net) -> int:
    return int(sum(p.numel() for p in net.parameters()))
