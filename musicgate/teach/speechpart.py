"""The gallery's speech part: the same gates, listening to a spoken digit.

For a speech run (``musicgate speech train -o RUN``, see the README) and a clip, the page shows the
clip's log-mel spectrogram with the classifier's gates under it and its guess after every 10 ms
frame (:func:`musicgate.speech.plots.speech_gate_view`), the clip to play, and the guess as it
streams, in words.

Where the clip comes from: the clips given (``--speech-clip``), else one clip of the run's own
test data when it is a folder of WAV files here (``fsdd:DIR``, ``commands:DIR``), else a digit
spoken by eSpeak NG when the run was trained on ``synth-digits`` and eSpeak NG is installed. A
run without any of these gets a line on the page saying to give ``--speech-clip``.

Without a run the page says how to train one. :data:`DEFAULT_RUN` is the folder the README trains,
used by ``musicgate gallery`` and ``musicgate demo`` when it exists.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from musicgate.errors import CheckpointError, ConfigError
from musicgate.files import atomic_write_bytes

DEFAULT_RUN = Path("runs") / "digits-gru"
"""Where the README's speech run is trained (``musicgate speech train --data synth-digits --cell gru -o
runs/digits-gru``); the gallery uses it when it exists and no run is given."""
HOW_TO = ("musicgate speech train --data synth-digits --cell gru -o runs/digits-gru",
          "musicgate gallery --speech runs/digits-gru")
"""The commands the page shows when it has no speech run."""
MAX_CLIPS = 2


def default_run() -> Path | None:
    """:data:`DEFAULT_RUN` when it holds a trained run (relative to the working folder), else None."""
    return DEFAULT_RUN if (DEFAULT_RUN / "model.pt").is_file() else None


@dataclass
class SpeechPart:
    """A checked speech run and the clips to show (:meth:`build` draws them)."""

    run: Path
    clips: list = field(default_factory=list)

    def build(self, media: Path) -> dict:
        """Draw each clip into ``media``; returns what the page shows (see :func:`speech_view`)."""
        return speech_view(self.run, self.clips, media)


def check_speech(run: "str | os.PathLike | None", clips: Sequence["str | os.PathLike"] = ()) -> SpeechPart | None:
    """Check a speech run (and clips) before any work; None without a run.

    Raises
    ------
    CheckpointError
        Not a speech run, or one trained on precomputed features (its clips cannot be drawn).
    ConfigError
        A clip that is not a file.
    """
    if run is None:
        if clips:
            raise ConfigError("--speech-clip needs a speech run: give --speech RUN too")
        return None
    from musicgate.speech import classify
    from musicgate.speech.run import checkpoint_path

    path = checkpoint_path(run)
    if not path.is_file():
        raise CheckpointError(f"{run}: no speech run there (no model.pt); train one with '{HOW_TO[0]}'")
    _, ckpt = classify.load_checkpoint(path)
    if ckpt.get("features") is None:
        raise CheckpointError(f"{run} was trained on precomputed features whose front end is not recorded; "
                              "train on fsdd:DIR or synth-digits for the page's speech part")
    for clip in clips:
        if not Path(clip).is_file():
            raise ConfigError(f"{clip}: no such clip; give a WAV file with --speech-clip")
    return SpeechPart(Path(run), [Path(c) for c in clips])


def _data_clips(settings: dict, names: list[str], out: Path) -> list[Path]:
    """Clips from the run's own data: test files of a WAV folder, or eSpeak NG digits."""
    data = str(settings.get("data") or "")
    if data.startswith("fsdd:"):
        folder = Path(data[5:])
        files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        holdout = settings.get("holdout_speaker")
        test = [f for f in files if (f.stem.split("_")[1:2] == [holdout] if holdout else f.stem.endswith("_0"))]
        picked, seen = [], set()
        for f in test or files:  # one clip each of different digits, from the test split
            if f.stem.split("_")[0] not in seen:
                seen.add(f.stem.split("_")[0])
                picked.append(f)
        return picked[::max(len(picked) // MAX_CLIPS, 1)][:MAX_CLIPS]
    if data.startswith("commands:"):
        root = Path(data[9:])
        listed = root / "testing_list.txt"
        lines = listed.read_text().split() if listed.is_file() else []
        return [root / x for x in lines[:MAX_CLIPS] if (root / x).is_file()]
    if data in ("synth-digits", "synth"):
        from musicgate.errors import AudioError
        from musicgate.music.audio import write_wav
        from musicgate.speech import espeak

        if not espeak.available():
            return []
        eng, clips = espeak.engine(), []
        for word in (names[7] if len(names) > 7 else names[-1], names[3] if len(names) > 3 else names[0]):
            try:
                audio = eng.synth(word, voice="en")
            except AudioError:
                continue
            clips.append(write_wav(out / f"speech_{len(clips)}.wav", audio, eng.sample_rate))
        return clips
    return []


def _stream_words(probs: np.ndarray, names: list[str], hop: float) -> list[tuple[float, str, float]]:
    """(time, label, probability) each time the running guess changes."""
    best = probs.argmax(axis=1)
    changes = np.r_[0, np.flatnonzero(np.diff(best)) + 1]
    return [(round(float(t * hop), 2), names[best[t]], round(float(probs[t, best[t]]), 2)) for t in changes]


def speech_view(run: "str | os.PathLike", clips: Sequence[Path], media: Path) -> dict:
    """Draw the gate view of each clip into ``media``; returns ``run``, ``cell``, ``accuracy``
    (the run's test accuracy, or None), ``clips`` (each with ``png``, ``wav``, ``name``, ``label``,
    ``probability``, ``stream``: the guess each time it changes) and ``message`` (why no clip, or None)."""
    import json

    from musicgate.errors import AudioError, DataError
    from musicgate.speech import classify
    from musicgate.speech.features import FeatureConfig, read_audio, speech_audio
    from musicgate.speech.plots import speech_gate_view
    from musicgate.speech.run import checkpoint_path

    run = Path(run)
    model, ckpt = classify.load_checkpoint(checkpoint_path(run))
    config = FeatureConfig.from_dict(ckpt["features"])
    names = list(ckpt.get("label_names") or [])
    settings = (ckpt.get("extra") or {}).get("settings", {})
    metrics = (ckpt.get("extra") or {}).get("metrics", {})
    metrics_file = (run if run.is_dir() else run.parent) / "metrics.json"
    if not metrics and metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    chosen = list(clips) or _data_clips(settings, names, media)
    out = {"run": str(run), "cell": model.cell, "accuracy": metrics.get("test_accuracy"),
           "data": settings.get("data"), "clips": [], "message": None}
    hop = config.hop_length / config.sample_rate
    for i, clip in enumerate(chosen[:MAX_CLIPS]):
        try:
            audio = read_audio(clip, sample_rate=config.sample_rate)
            speech_audio(audio, config, name=str(clip), require_speech=True)
        except (AudioError, DataError) as exc:
            out["clips"].append({"name": Path(clip).name, "error": str(exc)})
            continue
        stem = f"speech_{i}"
        wav = media / f"{stem}.wav"
        if Path(clip).resolve() != wav.resolve():
            atomic_write_bytes(wav, Path(clip).read_bytes())
        view = speech_gate_view(model, audio, config=config, path=media / f"{stem}_gates.png",
                                label_names=names or None,
                                title=f"'{Path(clip).name}': what the {model.cell.upper()} hears, its gates, "
                                      "and its guess after every 10 ms")
        out["clips"].append({"name": Path(clip).name, "png": Path(view["path"]).name, "wav": wav.name,
                             "label": view["label"], "probability": view["probability"],
                             "stream": _stream_words(view["probs"], names or [str(k) for k in
                                                                               range(view["probs"].shape[1])], hop)})
    if not chosen:
        out["message"] = (f"The run's data ({settings.get('data') or 'unknown'}) has no clip to show here; "
                          "give one with --speech-clip FILE.wav.")
    return out


__all__ = ["DEFAULT_RUN", "HOW_TO", "SpeechPart", "check_speech", "default_run", "speech_view"]
