"""Tiny spoken-word folders made in code: tone bursts whose pitch says the label."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def burst(label: int, *, seed: int, sr: int = 8000) -> np.ndarray:
    """A 0.15-0.3 s tone at 300 + 150 * label Hz with a little noise, as float32 (samples,)."""
    rng = np.random.default_rng(seed)
    n = int(sr * rng.uniform(0.15, 0.3))
    t = np.arange(n) / sr
    y = 0.4 * np.sin(2 * np.pi * (300 + 150 * label) * t) * np.hanning(n)
    return (y + 0.01 * rng.standard_normal(n)).astype(np.float32)


def make_fsdd(folder: Path, *, digits=(0, 1, 2), speakers=("ann", "bob"), takes: int = 7,
              sr: int = 8000) -> Path:
    """Write ``{digit}_{speaker}_{index}.wav`` files (8 kHz like FSDD); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for d in digits:
        for s, speaker in enumerate(speakers):
            for i in range(takes):
                sf.write(folder / f"{d}_{speaker}_{i}.wav", burst(d, seed=1000 * d + 100 * s + i, sr=sr), sr)
    return folder


def make_commands(root: Path, *, words=("no", "yes"), speakers=("aa11", "bb22", "cc33", "dd44"),
                  lists: bool = True, sr: int = 16000) -> Path:
    """Speech Commands layout: WORD/SPEAKER_nohash_N.wav, a _background_noise_ folder, and lists
    putting speaker bb22 in validation and cc33 in testing."""
    (root / "_background_noise_").mkdir(parents=True, exist_ok=True)
    sf.write(root / "_background_noise_" / "white_noise.wav", np.zeros(sr, np.float32), sr)
    val, test = [], []
    for w, word in enumerate(words):
        (root / word).mkdir(exist_ok=True)
        for s, speaker in enumerate(speakers):
            for n in range(2):
                rel = f"{word}/{speaker}_nohash_{n}.wav"
                sf.write(root / rel, burst(w, seed=w * 100 + s * 10 + n, sr=sr), sr)
                if speaker == "bb22":
                    val.append(rel)
                elif speaker == "cc33":
                    test.append(rel)
    if lists:
        (root / "validation_list.txt").write_text("\n".join(val) + "\n")
        (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root
