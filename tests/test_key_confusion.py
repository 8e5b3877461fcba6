"""benchmarks/key_confusion.py puts each window's key in its class against the asked key, by mode too."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

from musicgate.music.keys import MAJOR_MINOR_KEYS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "key_confusion.py"
_SPEC = importlib.util.spec_from_file_location("key_confusion", SCRIPT)
key_confusion = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(key_confusion)
K = {k.name: i for i, k in enumerate(MAJOR_MINOR_KEYS)}


def test_each_key_falls_in_its_class_against_the_asked_key():
    expect = {"A minor": "same", "C major": "relative", "E minor": "dominant", "D minor": "subdominant",
              "A major": "parallel", "G major": "one accidental away", "Eb major": "further"}
    for found, cls in expect.items():
        assert key_confusion.relation(MAJOR_MINOR_KEYS[K[found]], MAJOR_MINOR_KEYS[K["A minor"]]) == cls


def test_by_mode_splits_every_row_by_the_asked_mode(tmp_path):
    run = tmp_path / "retention-x"
    run.mkdir()
    # two sequences asked C major (found C major), two asked A minor (found C major: the relative key)
    keys = np.full((4, 70), K["C major"], np.int8)
    keys[:, 60:] = -1                                                   # windows past the end: none
    np.savez(run / "raw.npz", m_targets=np.array(["C major", "C major", "A minor", "A minor"]), m_key_w32=keys,
             real_targets=np.array(["A minor", "G major"]),
             real_key_w32=np.array([[K["A minor"]] * 3, [K["D major"]] * 3], np.int8))
    out = subprocess.run([sys.executable, str(SCRIPT), str(run), "--by-mode"], capture_output=True, text=True,
                         check=True).stdout
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): line.split("|")[3:-1]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line}
    same, relative, n = 0, 1, -1
    assert float(rows[("real tunes (ceiling), major keys", "all windows")][same]) == 0.0
    assert float(rows[("real tunes (ceiling), minor keys", "all windows")][same]) == 1.0
    assert float(rows[("m, major keys", "notes 1-64")][same]) == 1.0
    assert float(rows[("m, minor keys", "notes 1-64")][relative]) == 1.0
    assert rows[("m, minor keys", "notes 1-64")][n].strip() == "120"          # 2 sequences x 60 windows
    whole = subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, check=True).stdout
    assert "| m | notes 1-64 | 0.500 | 0.500 |" in whole and "major keys" not in whole
