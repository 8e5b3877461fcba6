"""benchmarks/retention_seeds.py pools retention runs by cell: mean and t-interval over the runs, the band per run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "retention_seeds.py"
POSITIONS = [64, 1024]


def _entry(cell: str, sha: str, in_sig: list[float], agree: list[float]) -> dict:
    w32 = {"in_signature": {str(p): [v, v, v] for p, v in zip(POSITIONS, in_sig)},
           "agreement": {str(p): [v, v, v] for p, v in zip(POSITIONS, agree)}}
    return {"info": {"cell": cell, "sha256": sha, "spec": f"runs/{sha}"}, "w32": w32}


def _run(folder: Path, cells: dict, **config) -> Path:
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"models": {k: "x" for k in cells}, "positions": POSITIONS,
                                                        "n_per_key": 8, **config}))
    ceiling = {"in_signature_w32": [0.98, 0.97, 0.99], "agreement_w32": [0.75, 0.7, 0.8]}
    (folder / "summary.json").write_text(json.dumps({"cells": cells, "ceiling": ceiling}))
    return folder


def _rows(out: str) -> dict:
    return {tuple(c.strip() for c in line.split("|")[1:4]): [c.strip() for c in line.split("|")[4:-1]]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line}


def test_models_of_one_cell_pool_over_runs_with_a_t_interval(tmp_path):
    a = _run(tmp_path / "a", {"gru-s0": _entry("gru", "g0", [0.99, 0.98], [0.70, 0.60]),
                              "rnn-s0": _entry("rnn", "r0", [0.90, 0.60], [0.20, 0.05])})
    b = _run(tmp_path / "b", {"gru-s1": _entry("gru", "g1", [0.97, 0.96], [0.80, 0.70])})
    png = tmp_path / "pooled.png"
    out = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), "--png", str(png)], capture_output=True,
                         text=True, check=True).stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _rows(out)
    # two runs: mean 0.75, sd 0.0707, t(0.975, 1) = 12.706, half-width 0.635 -> clipped to [0, 1]
    assert rows[("gru", "2", "windows in the asked key")] == ["0.750 [0.115, 1.000]", "0.650 [0.015, 1.000]"]
    assert rows[("rnn", "1", "notes in the signature")] == ["0.900", "0.600"]     # one run: no interval
    # the band: in the signature >= 0.95 and windows >= 0.75 - 0.10
    assert rows[("gru-s0", "gru", "0.990 / 0.700")][-1] == "@64"
    assert rows[("gru-s1", "gru", "0.970 / 0.800")][-1] == "@64, @1,024"
    assert rows[("rnn-s0", "rnn", "0.900 / 0.200")][-1] == "none"


def test_runs_of_another_protocol_or_the_same_model_twice_are_refused(tmp_path):
    a = _run(tmp_path / "a", {"gru-s0": _entry("gru", "g0", [0.99, 0.98], [0.70, 0.60])})
    other = _run(tmp_path / "other", {"gru-s1": _entry("gru", "g1", [0.99, 0.98], [0.70, 0.60])}, n_per_key=4)
    again = _run(tmp_path / "again", {"gru-copy": _entry("gru", "g0", [0.99, 0.98], [0.70, 0.60])})
    for folder, says in ((other, "other settings (n_per_key)"), (again, "appears twice"), (tmp_path, "lacks summary.json")):
        done = subprocess.run([sys.executable, str(SCRIPT), str(a), str(folder)], capture_output=True, text=True)
        assert done.returncode != 0 and says in done.stderr, done.stderr
