"""The gate view for a speech clip: log-mel spectrogram on top, the gates of a spoken-word
classifier under it, and its running guess at the bottom.

For a :class:`~musicgate.speech.classify.SpeechClassifier` and a WAV clip,
:func:`speech_gate_view` draws, on one time axis (seconds, one column per 10 ms frame):

- the log-mel spectrogram of the clip (what the front end hears),
- per-step heatmaps of the recurrent core's gates (:func:`musicgate.nn.models.trace_gates` on the
  standardized features the model really reads): LSTM ``i``, ``f``, ``o`` and the cell state ``c``;
  GRU ``r``, ``z`` and ``h``; RNN ``h`` only,
- the probability of each label after every frame (the model run frame by frame, as
  :func:`~musicgate.speech.classify.stream` does), so one sees where the decision forms.

:func:`speech_gate_pictures` does it from a run folder (``musicgate speech train -o RUN``) and a
WAV file and also returns the memory half-life and gate saturation of the clip.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musicgate.errors import CheckpointError, ParameterError
from musicgate.nn.cells import get_cell



def _units(trace, layer: int, max_units: int) -> np.ndarray:
    """The ``max_units`` units that vary most over time, sorted by mean keep factor (top: keeps longest)."""
    ref = getattr(trace, trace.keep or "h")[layer, 0]  # (T, H)
    units = np.arange(ref.shape[-1])
    if len(units) > max_units:
        units = np.sort(np.argsort(-ref.std(axis=0), kind="stable")[:max_units])
    if trace.keep is not None:
        units = units[np.argsort(ref[:, units].mean(axis=0), kind="stable")]
    return units


def trace_clip(model, feats: np.ndarray):
    """Gates and per-frame label probabilities of ``model`` on one clip.

    Parameters
    ----------
    model : SpeechClassifier
    feats : (T, input_size) float array
        The clip's features (the model standardizes them with its stored mean and std).

    Returns
    -------
    trace : GateTrace, arrays (layers, 1, T, H)
    probs : (T, n_classes) float array
        Label probabilities after each frame.
    """
    import torch

    from musicgate.nn.models import trace_gates

    model.eval()
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(feats, np.float32))[None]
        scaled = (x - model.feature_mean) / model.feature_std
        out, _ = model.rnn(scaled)  # (1, T, H): the top layer after every frame
        probs = torch.softmax(model.head(out[0]), dim=-1).numpy()
    return trace_gates(model.rnn, scaled), probs


def speech_gate_view(model, audio: np.ndarray, *, config, path: "str | os.PathLike",
                     label_names: list[str] | None = None, layer: int = -1, max_units: int = 48,
                     title: str | None = None, width: float = 10.0) -> dict:
    """Log-mel over gate heatmaps over the running label probabilities; saved as PNG.

    Parameters
    ----------
    model : SpeechClassifier
    audio : (samples,) float array
        Mono audio at ``config.sample_rate``.
    config : FeatureConfig
        The front end the model was trained with (its checkpoint's ``features``).
    path : path
        Where the PNG goes.
    label_names : list of str, optional
        Names of the classes (default: their indices).
    layer : int
        Which layer's gates to show.
    max_units : int
        At most this many units (the most active over time).

    Returns
    -------
    dict
        ``path``, ``cell``, ``frames``, ``label`` and ``probability`` (the final guess),
        ``trace`` (the GateTrace), ``probs`` ((T, n_classes) per-frame probabilities).
    """
    from musicgate.viz.plots import cell_colour, new_figure, save_figure
    from musicgate.speech.features import features, log_mel

    feats = features(audio, config)
    mel = log_mel(audio, config)  # (T, n_mels): the same frames as the features
    trace, probs = trace_clip(model, feats)
    layers, _, steps, hidden = trace.h.shape
    if not -layers <= layer < layers:
        raise ParameterError(f"layer {layer} out of range for a core of {layers} layers")
    names = list(label_names) if label_names is not None else [str(i) for i in range(probs.shape[1])]
    hop = config.hop_length / config.sample_rate
    extent_x = (-0.5 * hop, (steps - 0.5) * hop)
    units = _units(trace, layer, max_units)
    panels = get_cell(trace.cell).panels
    fig = new_figure(width, 2.2 + 1.2 * len(panels) + 1.3)
    grid = fig.add_gridspec(2 + len(panels), 2, width_ratios=(60, 1),
                            height_ratios=(1.5,) + (1.0,) * len(panels) + (1.1,), hspace=0.12, wspace=0.02)
    ax0 = fig.add_subplot(grid[0, 0])
    image = ax0.imshow(mel.T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                       extent=(*extent_x, -0.5, mel.shape[1] - 0.5))
    fig.colorbar(image, cax=fig.add_subplot(grid[0, 1]), label="dB")
    ax0.set_ylabel("mel band", fontsize="small")
    ax0.tick_params(labelbottom=False)
    final = int(np.argmax(probs[-1]))
    ax0.set_title(title or f"{get_cell(trace.cell).label} gates on a {steps * hop:.2f} s clip: "
                  f"'{names[final]}' (p={probs[-1, final]:.2f}); layer {layer % layers + 1} of {layers}, "
                  f"{len(units)} of {hidden} units")
    for row, name in enumerate(panels, start=1):
        ax = fig.add_subplot(grid[row, 0], sharex=ax0)
        data = getattr(trace, name)[layer, 0][:, units].T  # (units, T)
        if name in trace.sigmoid:
            kw = dict(cmap="viridis", vmin=0.0, vmax=1.0)
        else:
            lim = float(np.abs(data).max()) or 1.0
            kw = dict(cmap="RdBu_r", vmin=-lim, vmax=lim)
        image = ax.imshow(data, aspect="auto", origin="lower", interpolation="nearest",
                          extent=(*extent_x, -0.5, len(units) - 0.5), **kw)
        fig.colorbar(image, cax=fig.add_subplot(grid[row, 1]))
        ax.set_ylabel(get_cell(trace.cell).label_of(name), fontsize="small")
        ax.set_yticks([])
        ax.tick_params(labelbottom=False)
    axp = fig.add_subplot(grid[-1, 0], sharex=ax0)
    t = np.arange(steps) * hop
    top = np.argsort(-probs.max(axis=0), kind="stable")[:4]  # the labels that ever led, at most 4
    others = iter(("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"))
    for k in top:
        axp.plot(t, probs[:, k], linewidth=2.2 if k == final else 1.0, label=names[k],
                 color=cell_colour(trace.cell) if k == final else next(others))
    axp.set_ylim(0, 1.02)
    axp.set_ylabel("p(label)", fontsize="small")
    axp.set_xlabel("time (s)")
    axp.legend(fontsize="x-small", loc="upper left", ncol=len(top))
    axp.grid(True, alpha=0.3)
    fig.subplots_adjust(left=0.08, right=0.94, top=0.94, bottom=0.07)
    saved = save_figure(fig, path)
    return {"path": saved, "cell": trace.cell, "frames": int(steps), "label": names[final],
            "probability": float(probs[-1, final]), "trace": trace, "probs": probs}


def speech_gate_pictures(run: "str | os.PathLike", wav: "str | os.PathLike", outdir: "str | os.PathLike", *,
                         layer: int = -1, max_units: int = 48) -> dict:
    """The gate view of a trained speech run on one WAV clip, plus its gate numbers.

    Parameters
    ----------
    run : path
        A run folder of ``musicgate speech train`` (or its ``model.pt``).
    wav : path
        The clip (resampled to the run's front-end rate).
    outdir : path
        Gets ``gates_<clip>.png``.

    Returns
    -------
    dict
        ``path`` of the PNG, ``cell``, ``frames``, ``label``, ``probability``, ``median_half_life``
        (frames; None for an RNN) and ``saturation`` (gate -> share of steps below 0.1 or above 0.9).

    Raises
    ------
    CheckpointError
        Not a speech checkpoint, or one trained on precomputed features (no front end recorded).
    AudioError
        The clip cannot be read.
    """
    from musicgate.analysis.gatestats import gate_saturation, keep_gate, memory_half_life
    from musicgate.speech import classify
    from musicgate.speech.features import FeatureConfig, read_audio, speech_audio

    run = Path(run)
    model, ckpt = classify.load_checkpoint(run / "model.pt" if run.is_dir() else run)
    if ckpt.get("features") is None:
        raise CheckpointError(f"{run} was trained on precomputed features whose front end is not recorded; "
                              "train on fsdd:DIR or synth-digits to trace WAV files")
    config = FeatureConfig.from_dict(ckpt["features"])
    audio = read_audio(wav, sample_rate=config.sample_rate)
    speech_audio(audio, config, name=str(wav), require_speech=True)  # silence or a tone: no speech
    outdir = Path(outdir)
    result = speech_gate_view(model, audio, config=config, path=outdir / f"gates_{Path(wav).stem}.png",
                              label_names=ckpt.get("label_names"), layer=layer, max_units=max_units)
    trace = result.pop("trace")
    result.pop("probs")
    keep = keep_gate(trace)
    half = memory_half_life(keep[layer]) if keep is not None else None
    result["median_half_life"] = None if half is None else float(np.median(half))
    sat = gate_saturation({g: getattr(trace, g)[layer] for g in trace.sigmoid})
    result["saturation"] = {g: s["low_share"] + s["high_share"] for g, s in sat.items()}
    return result
