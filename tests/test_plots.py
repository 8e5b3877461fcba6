"""Pictures (musicgate.viz.plots, musicgate.viz.gates) and gate numbers (musicgate.analysis.gatestats)."""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.cli import main
from musicgate.viz.gates import gate_pictures, gate_view, half_life_figure, note_steps_from_tokens, saturation_figure
from musicgate.analysis.gatestats import gate_saturation, keep_gate, memory_half_life
from musicgate.nn.models import RecurrentLM, trace_gates
from musicgate.music.notes import DRUM_PROGRAM, Notes
from musicgate.viz.plots import (bar_length, key_colour, key_strip, new_figure, out_of_key_mask, piano_roll,
                             retention_curves, save_figure)
from musicgate.tokens.tokenizer import make_tokenizer


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 2000
    return struct.unpack(">II", data[16:24])


def tune() -> Notes:
    # a D major scale with two out-of-signature notes (F natural 65, C natural 72), in 3/4
    pitch = [62, 64, 66, 67, 69, 71, 73, 74, 65, 72]
    onset = np.arange(10) * 1.0
    return Notes.from_arrays(pitch, onset, [1.0] * 10, key="D major", meter=(3, 4))


# -- piano roll ---------------------------------------------------------------------------------
def test_out_of_key_mask_marks_pitch_classes_outside_the_signature():
    assert out_of_key_mask(np.array([62, 65, 66, 72, 73, 74 + 12]), "D major").tolist() == \
        [False, True, False, True, False, False]


def test_piano_roll_png_bars_and_marked_notes(tmp_path):
    fig = new_figure(8, 3, dpi=100)
    ax = piano_roll(fig.add_subplot(), tune(), key="D major")
    assert bar_length(tune()) == 3.0
    bars = [line.get_xdata()[0] for line in ax.get_lines()]
    assert bars == [0.0, 3.0, 6.0, 9.0]
    colours = ax.collections[0].get_facecolors()
    red = np.all(np.isclose(colours[:, :3], [0xE4 / 255, 0x57 / 255, 0x2E / 255], atol=0.01), axis=1)
    assert red.sum() == 2  # F natural and C natural in D major
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "in D major signature" and "2 of 10" in labels[1]
    path = save_figure(fig, tmp_path / "roll.png")
    assert png_size(path) == (800, 300)


def test_piano_roll_default_bar_is_4_4_and_drums_are_left_out(tmp_path):
    notes = Notes.from_arrays([60, 36], [0.0, 0.0], [9.0, 1.0], program=[0, DRUM_PROGRAM])
    fig = new_figure(6, 2)
    ax = piano_roll(fig.add_subplot(), notes)
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [0.0, 4.0, 8.0]
    assert len(ax.collections[0].get_paths()) == 1 and ax.get_legend() is None
    assert png_size(save_figure(fig, tmp_path / "r.png")) == (600, 200)
    fig = new_figure(6, 2)
    piano_roll(fig.add_subplot(), Notes.empty(), key="C")  # empty: still a picture
    assert png_size(save_figure(fig, tmp_path / "empty.png")) == (600, 200)


# -- key strip ---------------------------------------------------------------------------------
def test_key_colours_follow_the_circle_of_fifths():
    import colorsys

    hue = lambda k: colorsys.rgb_to_hls(*key_colour(k))[0]  # noqa: E731
    assert hue(0) == pytest.approx(0.0, abs=1e-6) and hue(7) == pytest.approx(1 / 12, abs=1e-6)
    assert hue(12) == pytest.approx(hue(0), abs=1e-6)  # C minor: same hue, darker
    assert sum(key_colour(12)) < sum(key_colour(0))


def test_key_strip_png_with_target_agreement(tmp_path):
    times = np.arange(8.0)
    keys = np.array([2, 2, 2, 9, 9, -1, 2, 14])
    conf = np.array([0.9, 0.8, 0.7, 0.5, 0.4, np.nan, 0.95, 0.3])
    fig = new_figure(8, 1.5)
    ax = key_strip(fig.add_subplot(), times, keys, conf, target="D major")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "target D major: 57% agree"  # 4 of the 7 windows with an estimate
    assert ax.get_xlim() == (0.0, 8.0)
    agree = ax.collections[1].get_paths()
    assert len(agree) == 4
    fig.subplots_adjust(right=0.75)
    assert png_size(save_figure(fig, tmp_path / "strip.png")) == (800, 150)
    # a mode is compared as the major or minor key with its third, and the legend says so
    modal = key_strip(new_figure(8, 1.5).add_subplot(), times, keys, conf, target="D mixolydian")
    assert modal.get_legend().get_texts()[0].get_text() == "target D mixolydian, heard as D major: 57% agree"


def test_key_strip_end_stretches_the_last_window():
    ax = key_strip(new_figure(8, 1.5).add_subplot(), np.array([-0.5, 3.5, 4.5]), np.array([2, 2, 9]),
                   np.array([0.9, 0.8, 0.7]), target="D major", end=11.5)
    spans = [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in ax.collections[0].get_paths()]
    assert spans == [(-0.5, 3.5), (3.5, 4.5), (4.5, 11.5)]  # without end the last would stop at 5.5
    with pytest.raises(ValueError, match="end"):
        key_strip(new_figure().add_subplot(), np.arange(3.0), np.zeros(3, int), np.zeros(3), end=2.0)


def test_key_strip_rejects_mismatched_arrays():
    fig = new_figure()
    with pytest.raises(ValueError, match="one value per window"):
        key_strip(fig.add_subplot(), np.arange(3.0), np.zeros(2, int), np.zeros(3))
    with pytest.raises(ValueError, match="increase"):
        key_strip(fig.add_subplot(), np.array([0.0, 0.0]), np.zeros(2, int), np.zeros(2))


# -- retention curves --------------------------------------------------------------------------
def test_retention_curves_png(tmp_path):
    pos = np.arange(1, 33)
    curves = {"lstm": (0.9 - pos * 0.001, 0.88 - pos * 0.001, 0.92 - pos * 0.001),
              "rnn": (0.9 - pos * 0.01, 0.85 - pos * 0.01, 0.95 - pos * 0.01)}
    fig = new_figure(7, 4)
    ax = retention_curves(fig.add_subplot(), pos, curves, ceiling=0.95, ylabel="in-key share")
    lines = ax.get_lines()
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--"]
    assert np.allclose(lines[2].get_ydata(), 0.95)
    from musicgate.nn.cells import get_cell

    assert lines[0].get_color() == get_cell("lstm").colour and lines[1].get_color() == get_cell("rnn").colour
    assert get_cell("lstm").colour != get_cell("rnn").colour
    assert len(ax.collections) == 2  # one band per curve
    assert png_size(save_figure(fig, tmp_path / "ret.png")) == (700, 400)
    with pytest.raises(ValueError, match="needs 32 values"):
        retention_curves(fig.add_subplot(), pos, {"gru": (pos, pos, pos[:-1])}, ylabel="x")


# -- gate numbers (exact values on hand-made arrays) -------------------------------------------
def test_memory_half_life_exact_values():
    f = np.array([[0.5, 1.0, 0.0, 0.9, 0.25],
                  [0.5, 1.0, 0.0, 0.9, 0.75]])  # (T=2, H=5)
    out = memory_half_life(f)
    assert out[0] == pytest.approx(1.0)           # halves every step
    assert out[1] == math.inf                     # never forgets
    assert out[2] == 0.0                          # forgets at once
    assert out[3] == pytest.approx(math.log(0.5) / math.log(0.9))  # ~6.58 steps
    assert out[4] == pytest.approx(1.0)           # mean of 0.25 and 0.75 is 0.5
    assert memory_half_life(np.full((2, 3, 4, 7), 0.5)).shape == (7,)
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        memory_half_life(np.array([[1.5]]))


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_half_life_grows_with_the_keep_factor(a, b):
    lo, hi = sorted((a, b))
    t = memory_half_life(np.array([[lo, hi]]))
    assert t[0] <= t[1] + 1e-12
    assert lo ** t[0] == pytest.approx(0.5, rel=1e-9)


def test_gate_saturation_exact_values():
    g = np.array([[0.05, 0.5, 0.95],
                  [0.05, 0.95, 0.95],
                  [0.5, 0.09, 0.91],
                  [0.1, 0.9, 0.99]])  # (T=4, H=3); 0.1 and 0.9 themselves are not saturated
    sat = gate_saturation({"forget_gate": g})["forget_gate"]
    assert sat["low"].tolist() == [0.5, 0.25, 0.0]
    assert sat["high"].tolist() == [0.0, 0.25, 1.0]
    assert sat["low_share"] == pytest.approx(3 / 12) and sat["high_share"] == pytest.approx(5 / 12)


@dataclass
class FakeTrace:
    """Stand-in with the GateTrace fields the gate pictures read."""

    cell: str
    h: np.ndarray
    reset_gate: np.ndarray | None = None
    update_gate: np.ndarray | None = None
    keep: str | None = None
    sigmoid: tuple = ()

    def __post_init__(self):  # what trace_gates records from the cell registry
        if self.cell == "gru":
            self.keep, self.sigmoid = "update_gate", ("reset_gate", "update_gate")


def test_gru_keep_gate_is_z_and_saturation_reads_a_trace():
    z = np.full((1, 1, 4, 2), 0.95)
    trace = FakeTrace("gru", h=np.zeros_like(z), reset_gate=np.full_like(z, 0.05), update_gate=z)
    trace.arrays = lambda: {}
    assert keep_gate(trace) is z
    sat = gate_saturation(trace)
    assert set(sat) == {"reset_gate", "update_gate"}
    assert sat["reset_gate"]["low_share"] == 1.0 and sat["update_gate"]["high_share"] == 1.0
    assert keep_gate(FakeTrace("rnn", h=z)) is None


# -- gate figures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def melody():
    tok = make_tokenizer("melody")
    notes = tune()
    return tok, notes, tok.encode(notes)


@pytest.mark.parametrize("cell,panels", [("lstm", 4), ("gru", 3), ("rnn", 1)])
def test_gate_view_png_per_cell(tmp_path, melody, cell, panels):
    tok, notes, ids = melody
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=len(tok), cell=cell, hidden=16, layers=2).eval()
    trace = trace_gates(model, torch.as_tensor(ids)[None])
    path = gate_view(trace, tok.decode(ids), path=tmp_path / f"{cell}.png",
                     note_steps=note_steps_from_tokens(tok, ids), tokens=[tok.vocab[i] for i in ids],
                     key="D major")
    assert png_size(path) == (1100, int(round((1.8 + 1.35 * panels) * 100)))


def test_note_steps_from_tokens_follow_the_pitch_duration_pairs(melody):
    tok, notes, ids = melody
    steps = note_steps_from_tokens(tok, ids)
    names = [tok.vocab[i] for i in ids]
    assert len(steps) == len(notes)
    # each note is complete at its DUR token, and lasts until the next note is complete
    dur_steps = [i for i, name in enumerate(names) if name.startswith("DUR")]
    assert steps[:, 0].tolist() == dur_steps
    assert steps[:-1, 1].tolist() == dur_steps[1:] and steps[-1, 1] == len(ids)


def test_gate_view_without_note_steps_spreads_notes_by_time_and_checks_shapes(tmp_path):
    rng = np.random.default_rng(0)
    h = rng.uniform(0, 1, (1, 1, 30, 100)).astype(np.float32)
    trace = FakeTrace("gru", h=h * 2 - 1, reset_gate=h, update_gate=h[..., ::-1].copy())
    path = gate_view(trace, tune(), path=tmp_path / "g.png", max_units=10)
    assert png_size(path) == (1100, int(round((1.8 + 1.35 * 3) * 100)))
    with pytest.raises(ValueError, match="note_steps has 3 rows"):
        gate_view(trace, tune(), path=tmp_path / "x.png", note_steps=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="out of range"):
        gate_view(trace, tune(), path=tmp_path / "x.png", layer=3)


def test_half_life_and_saturation_figures(tmp_path):
    rng = np.random.default_rng(1)
    half = {"lstm": memory_half_life(rng.uniform(0.5, 1.0, (50, 32))),
            "gru": np.r_[memory_half_life(rng.uniform(0.2, 0.9, (50, 31))), np.inf], "rnn": np.array([])}
    assert png_size(half_life_figure(half, path=tmp_path / "hl.png")) == (700, 400)
    sat = {"lstm": gate_saturation({"forget_gate": rng.uniform(0, 1, (50, 8))}), "rnn": {}}
    assert png_size(saturation_figure(sat, path=tmp_path / "sat.png")) == (720, 360)


def test_gate_pictures_and_cli(tmp_path, melody, monkeypatch, capsys):
    from musicgate.teach.gates import model_label
    from musicgate.music.midi import write_midi

    tok, notes, _ = melody
    models = {}
    for cell in ("lstm", "gru", "rnn"):
        torch.manual_seed(0)
        models[cell] = (RecurrentLM(vocab_size=len(tok), cell=cell, hidden=8, layers=1), tok)
    result = gate_pictures(models, notes, tmp_path / "lib", max_steps=20)
    assert sorted(p.name for p in result["files"]) == sorted(
        ["gates_lstm.png", "gates_gru.png", "gates_rnn.png", "half_life.png", "saturation.png"])
    assert result["cells"]["rnn"]["median_half_life"] is None
    assert result["cells"]["lstm"]["steps"] == 20 and set(result["cells"]["gru"]["saturation"]) == \
        {"reset_gate", "update_gate"}

    # the CLI on a real checkpoint file, as written by training
    from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint

    payload = make_checkpoint(model=models["lstm"][0], config={}, tokenizer=tok,
                              dataset={"name": "test"}, step=1, best_val_loss=None)
    # torch.__version__ is a TorchVersion object, which weights_only loading refuses
    payload["torch_version"] = str(payload.get("torch_version", ""))
    ckpt = save_checkpoint(payload, tmp_path / "folk-lstm.pt")
    mid = write_midi(notes, tmp_path / "tune.mid")
    out = tmp_path / "cli"
    assert main(["gates", "--model", str(ckpt), "--melody", str(mid), "-o", str(out),
                 "--max-steps", "24"]) == 0
    text = capsys.readouterr().out
    assert "folk-lstm (lstm, 24 steps): median half-life" in text
    assert f"wrote {out / 'gates.json'}" in text
    assert (out / "gates_folk-lstm.png").exists() and (out / "half_life.png").exists()
    report = json.loads((out / "gates.json").read_text())
    assert report["cells"]["folk-lstm"]["cell"] == "lstm"
    assert model_label("runs/a/best.pt", {"best": 1}) == "best-2"


def test_cli_gates_unknown_model_is_one_line(tmp_path, capsys):
    from musicgate.music.midi import write_midi

    mid = write_midi(tune(), tmp_path / "tune.mid")
    assert main(["gates", "--model", str(tmp_path / "nope.pt"), "--melody", str(mid),
                 "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("musicgate gates: error:") and "nope.pt" in err and "\n" not in err
    assert main(["gates", "--model", "no-such-model", "--melody", str(mid)]) == 2
    assert "shipped models" in capsys.readouterr().err


def test_pitch_axis_names_notes_not_midi_numbers():
    from musicgate.figures import new_figure
    from musicgate.viz.plots import pitch_ticks

    fig = new_figure()
    ax = fig.add_subplot()
    pitch_ticks(ax, 62, 76)  # D4..E5: under two octaves, Cs and Gs
    labels = dict(zip(ax.get_yticks().astype(int).tolist(), [t.get_text() for t in ax.get_yticklabels()]))
    assert labels == {67: "G4", 72: "C5"}
    pitch_ticks(ax, 40, 90)  # wide: only the Cs
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C3", "C4", "C5", "C6"]


def test_curves_of_one_cell_differ_by_dash_not_only_by_colour():
    from musicgate.viz.plots import cell_colour, line_styles

    styles = line_styles(["rnn", "gru", "gru-medley", "lstm", "lstm-medley", "gru-long"])
    colours = [c for c, _ in styles]
    assert colours[:2] == [cell_colour("rnn"), cell_colour("gru")] and colours[3] == cell_colour("lstm")
    assert [s for _, s in styles] == ["-", "-", "--", "-", "--", ":"]

    def luminance(c: str) -> int:
        return sum(int(c[j:j + 2], 16) for j in (1, 3, 5))
    assert luminance(colours[1]) > luminance(colours[2]) > luminance(colours[5]) > 0   # gru, then darker shades
    assert luminance(colours[3]) > luminance(colours[4])
    assert len(set(colours)) == 6
