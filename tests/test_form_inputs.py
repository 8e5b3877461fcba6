"""Form inputs: the model reads the bar lines so far and the bar lines left of a planned length."""
from __future__ import annotations

import importlib
import json
import re

import numpy as np
import pytest
import torch

from musicgate.cli import main
from musicgate.errors import ConfigError
from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
from musicgate.nn.models import CELLS, RecurrentLM, trace_gates
from musicgate.tokens.tokenizer import make_tokenizer
from musicgate.train.loop import _start_from

gen = importlib.import_module("musicgate.generation.api")
BAR = 3  # the bar-line id of the toy vocabulary below


def _pair(cell: str, buckets: int = 4):
    """A plain model and the same weights with form inputs (tables still zero)."""
    torch.manual_seed(0)
    plain = RecurrentLM(vocab_size=9, cell=cell, hidden=8, layers=2).eval()
    form = RecurrentLM(**plain.model_args, form_inputs=buckets, barline_ids=[BAR]).eval()
    form.load_state_dict(plain.state_dict(), strict=False)
    return plain, form


def _randomise(model: RecurrentLM) -> RecurrentLM:
    with torch.no_grad():
        model.form.count.weight.normal_()
        model.form.left.weight.normal_()
    return model


@pytest.mark.parametrize("cell", CELLS)
def test_zero_tables_compute_what_the_model_without_them_did(cell):
    plain, form = _pair(cell)
    ids = torch.tensor([[1, 2, BAR, 4, BAR, 5, 6]])
    want, _ = plain(ids)
    for plan in (None, "tune", torch.tensor([5]), torch.tensor([-1])):
        got, _ = form(ids, plan=plan)
        assert torch.equal(got, want)


def test_the_counts_and_the_bars_left_are_read_at_each_position():
    _, model = _pair("gru", buckets=4)
    _randomise(model)
    ids = torch.tensor([[1, 2, BAR, 4, BAR, 5, BAR, 6, BAR, 7, BAR, 8]])
    extra, counters = model.form(ids, None, torch.tensor([3]))
    count = [0, 0, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3]  # clipped at buckets - 1 = 3 (five bar lines)
    left = [3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0]  # plan 3 minus the count, never below 0
    want = model.form.count.weight[count] + model.form.left.weight[left]
    assert torch.allclose(extra[0], want)
    assert counters.tolist() == [[[5, 3]]]  # (count unclipped, plan), carried in the state
    none, no_counters = model.form(ids, None, torch.tensor([-1]))  # no plan: the "no plan" entries
    assert torch.allclose(none[0], (model.form.count.weight[4] + model.form.left.weight[4]).expand(12, -1))
    assert torch.equal(model.form(ids, None, None)[0], none) and no_counters is not None


@pytest.mark.parametrize("cell", CELLS)
def test_streaming_with_a_plan_equals_the_whole_row(cell):
    _, model = _pair(cell)
    _randomise(model)
    ids = torch.tensor([[0, 1, 2, BAR, 4, BAR, 5, BAR, 6], [0, 1, BAR, BAR, 2, 4, BAR, 5, 6]])
    plan = torch.tensor([2, 6])
    with torch.no_grad():
        full, _ = model(ids, plan=plan)
        logits, state = model(ids[:, :3], plan=plan)  # a prefix, then one token at a time
        steps = [logits]
        for t in range(3, ids.shape[1]):
            out, state = model.step(ids[:, t], state)
            steps.append(out[:, None])
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


def test_tune_plan_is_the_rows_own_bar_count_and_rows_can_drop_it_in_training():
    _, model = _pair("lstm")
    _randomise(model)
    ids = torch.tensor([[0, 1, BAR, 2, BAR, 4], [0, BAR, 1, 2, 4, 5]])
    assert torch.equal(model(ids, plan="tune")[0], model(ids, plan=torch.tensor([2, 1]))[0])
    with pytest.raises(ConfigError, match="plan must be 'tune'"):
        model(ids, plan="song")
    model.form.dropout_p = 0.5
    model.train()
    torch.manual_seed(1)
    dropped = [model.form(ids, None, "tune")[1][0, :, 1].tolist() for _ in range(40)]
    assert {-1, 2} == {row[0] for row in dropped} and {-1, 1} == {row[1] for row in dropped}


def test_args_rebuild_and_bad_settings():
    _, model = _pair("gru", buckets=6)
    args = model.model_args
    assert args["form_inputs"] == 6 and args["barline_ids"] == [BAR]
    clone = RecurrentLM(**args)
    clone.load_state_dict(model.state_dict())
    assert clone.has_form_inputs and not RecurrentLM(vocab_size=9, hidden=4).has_form_inputs
    with pytest.raises(ConfigError, match="bar-line token ids"):
        RecurrentLM(vocab_size=9, hidden=4, form_inputs=4, barline_ids=[])
    with pytest.raises(ConfigError, match="bar-line token ids"):
        RecurrentLM(vocab_size=9, hidden=4, form_inputs=4, barline_ids=[9])
    ids = torch.tensor([[1, BAR, 2]])
    trace = trace_gates(_randomise(model), ids)  # the gate view reads "no plan" unless given one
    assert np.allclose(trace.h[-1, 0, -1], model(ids)[1][-1, 0].detach().numpy(), atol=1e-5)
    planned = trace_gates(model, ids, plan=torch.tensor([3]))
    assert np.allclose(planned.h[-1, 0, -1], model(ids, plan=torch.tensor([3]))[1][0][-1, 0].detach().numpy(), atol=1e-5)
    assert not np.allclose(planned.h, trace.h, atol=1e-3)


def _checkpoint(path, form: bool, cell: str = "gru", bar_lines: dict | None = None, modes: dict | None = None,
                by_meter: dict | None = None):
    tok = make_tokenizer("melody", pitch_range=(21, 108))
    torch.manual_seed(0)
    extra = dict(form_inputs=8, barline_ids=[int(i) for i in tok.barline_ids]) if form else {}
    model = RecurrentLM(vocab_size=len(tok), cell=cell, hidden=16, layers=1, **extra)
    if by_meter:  # a model that reads its plan (the form tables start at zero)
        with torch.no_grad():
            model.form.count.weight.normal_(0, 1.0)
            model.form.left.weight.normal_(0, 1.0)
    dataset = {"name": "test", **({"bar_lines": bar_lines} if bar_lines else {}), **({"modes": modes} if modes else {}),
               **({"bar_lines_by_meter": by_meter} if by_meter else {})}
    payload = make_checkpoint(model=model, config={"model": {"cell": cell}}, tokenizer=tok,
                              dataset=dataset, step=0, best_val_loss=None)
    return save_checkpoint(payload, path), model, tok


def test_a_model_with_form_inputs_starts_from_one_without(tmp_path):
    path, plain, tok = _checkpoint(tmp_path / "plain.pt", form=False)
    model = RecurrentLM(**plain.model_args, form_inputs=8, barline_ids=[int(i) for i in tok.barline_ids])
    _start_from(model, tok, str(path))
    assert torch.equal(model.rnn.weight_hh_l0, plain.rnn.weight_hh_l0) and not model.form.count.weight.any()
    other = RecurrentLM(**{**plain.model_args, "hidden": 12})
    with pytest.raises(ConfigError, match="is a different model"):
        _start_from(other, tok, str(path))


def test_a_dance_asked_by_name_gets_that_dance_s_plans_a_meter_the_training_tunes(tmp_path):
    from musicgate.music.meters import DANCE_PLANS

    path, _, _ = _checkpoint(tmp_path / "form.pt", form=True, bar_lines={"8": 3, "12": 1})
    by_name = gen.generate_run(str(path), key="D", num=200, seed=3, length=8, time_signature="jig")
    by_meter = gen.generate_run(str(path), key="D", num=200, seed=3, length=8, time_signature="6/8")
    assert by_name.settings["plan_source"] == "drawn from the folk corpus's jigs" and by_name.settings["dance"] == "jig"
    plans = np.array(by_name.settings["planned_bars"])
    assert set(plans) <= set(DANCE_PLANS["jig"]) and 0.25 < (plans == 19).mean() < 0.55  # 197 of 467 jigs
    assert by_meter.settings["dance"] is None and set(by_meter.settings["planned_bars"]) == {8, 12}
    told = gen.generate_run(str(path), key="D", num=2, seed=3, length=8, time_signature="Jig", bars=12)
    assert told.settings["planned_bars"] == [12, 12] and told.settings["plan_source"] == "--bars"
    assert told.settings["dance"] == "jig"


def test_plans_are_drawn_from_the_training_tunes_bar_counts(tmp_path, capsys):
    path, _, _ = _checkpoint(tmp_path / "form.pt", form=True, bar_lines={"8": 3, "18": 1, "30": 0})
    run = gen.generate_run(str(path), key="D", num=400, seed=5, length=8)
    plans = np.array(run.settings["planned_bars"])
    assert run.settings["plan_source"] == "drawn from the training tunes"
    assert set(plans) == {8, 18} and 0.65 < (plans == 8).mean() < 0.85  # 3 : 1, never the empty count
    again = gen.generate_run(str(path), key="D", num=400, seed=5, length=8).settings["planned_bars"]
    assert again == run.settings["planned_bars"]  # the seed makes the plans too
    _, tok, _ = gen.load_model(str(path))
    assert run.settings["bar_lines_written"] == [int(np.isin(x, tok.barline_ids).sum()) for x in run.ids]
    assert max(run.settings["bar_lines_written"]) > 0
    assert gen.generate_run(str(path), key="D", num=2, seed=5, length=8, bars=12).settings["planned_bars"] == [12, 12]
    short, _, _ = _checkpoint(tmp_path / "short.pt", form=True, bar_lines={"4": 1000, "12": 1})
    assert set(gen.generate_run(str(short), key="D", num=20, seed=5, length=8).settings["planned_bars"]) == {12}
    out = tmp_path / "out"
    assert main(["generate", "--model", str(path), "--key", "G", "--num", "6", "--seed", "3", "-o", str(out)]) == 0
    assert re.search(r"\((8|18|8-18) bars planned, drawn from the training tunes\)", capsys.readouterr().out)


def test_a_piece_s_plan_is_drawn_from_the_training_tunes_in_its_meter(tmp_path):
    # 3/4 has too few tunes of its own (MIN_METER_TUNES): its pieces draw from all the training tunes
    by_meter = {"6/8": {"30": 25}, "2/4": {"9": 40, "4": 100}, "3/4": {"12": 5}}
    path, model, tok = _checkpoint(tmp_path / "form.pt", form=True, bar_lines={"9": 40, "12": 5, "30": 25, "50": 30},
                                   by_meter=by_meter)
    run = gen.generate_run(str(path), key="D", num=300, seed=4, length=8).settings
    assert run["plan_source"] == "drawn from the training tunes in each piece's meter"
    pairs = list(zip(run["meters"], run["planned_bars"]))
    assert {m for m, _ in pairs} >= {"6/8", "2/4", "3/4"}  # an untrained model: meters of every kind
    assert all(p == 30 for m, p in pairs if m == "6/8") and all(p == 9 for m, p in pairs if m == "2/4")
    others = [p for m, p in pairs if m not in ("6/8", "2/4")]
    assert set(others) == {9, 12, 30, 50}  # all the training tunes' counts, the 3/4 ones too
    assert gen.generate_run(str(path), key="D", num=300, seed=4, length=8).settings["planned_bars"] == \
        run["planned_bars"]  # the seed makes the plans too
    asked = gen.generate_run(str(path), key="D", num=6, seed=4, length=8, time_signature="6/8").settings
    assert asked["planned_bars"] == [30] * 6 and asked["plan_source"] == "drawn from the training tunes in 6/8"
    rare = gen.generate_run(str(path), key="D", num=40, seed=4, length=8, time_signature="3/4").settings
    assert rare["plan_source"] == "drawn from the training tunes" and 50 in rare["planned_bars"]
    jig = gen.generate_run(str(path), key="D", num=6, seed=4, length=8, time_signature="jig").settings
    assert jig["plan_source"] == "drawn from the folk corpus's jigs"  # a dance keeps its own plans
    free = gen.generate_run(str(path), key="D", num=6, seed=4, length=8, meter=False).settings
    assert free["plan_source"] == "drawn from the training tunes"  # no meter grammar: the meter may be unknown
    # the meter comes first, so a plan drawn and the same plan given make the same tune
    for i in (0, 1, 2):
        given = gen.generate_run(str(path), key="D", num=1, seed=100 + i, length=24, bars=None)
        again = gen.generate_run(str(path), key="D", num=1, seed=100 + i, length=24,
                                 bars=given.settings["planned_bars"][0])
        assert again.settings["plan_source"] == "--bars" and np.array_equal(again.ids[0], given.ids[0])
    # the model reads each piece's plan from its first token, as it would a plan given with the meter
    net, _, meta = gen.load_model(str(path))
    seen = []
    forward = net.forward
    net.forward = lambda ids, state=None, **kw: (seen.append((ids.clone(), kw.get("plan"))), forward(ids, state, **kw))[1]
    again = gen.generate_run((net, tok, meta), key="D", num=12, seed=4, length=8).settings
    assert again["planned_bars"] == run["planned_bars"][:12]
    ids, plan = seen[1]  # after the prefix without a plan: the header read again with the drawn plans
    assert seen[0][1].tolist() == [-1] * len(seen[0][0]) and ids.shape[1] == 3
    drawn = {int(r[2]): int(p) for r, p in zip(ids, plan)}
    want = {tok.meter_id(tuple(int(x) for x in m.split("/"))): p for m, p in zip(again["meters"], again["planned_bars"])}
    assert drawn == want


def test_broken_bar_line_counts_in_a_checkpoint_get_one_clear_line(tmp_path, capsys):
    from musicgate.nn.checkpoint import _read

    cases = [({"bar_lines": {"x": 3}}, "dataset.bar_lines should map bar lines"),
             ({"bar_lines": {"16": 3}, "bar_lines_by_meter": {"6/8": {"0": 2}}},
              "dataset.bar_lines_by_meter['6/8'] should map"),
             ({"bar_lines": {"16": 3}, "bar_lines_by_meter": {"six-eight": {"16": 2}}},
              "has 'six-eight', not a time signature"),
             ({"bar_lines": {"16": 3}, "bar_lines_by_meter": {"6/8": [16, 2]}},
              "dataset.bar_lines_by_meter['6/8'] should map"),
             ({"bar_lines": {"16": 3}, "bar_lines_by_meter": [16, 2]}, "should map time signatures to bar-line counts")]
    good, _, _ = _checkpoint(tmp_path / "good.pt", form=True, bar_lines={"16": 3})
    for n, (dataset, phrase) in enumerate(cases):
        payload = _read(good, "cpu")
        payload["dataset"] = {"name": "test", **dataset}   # as a hand-edited or foreign checkpoint might have it
        path = save_checkpoint(payload, tmp_path / f"bad{n}.pt")
        out = tmp_path / f"out{n}"
        capsys.readouterr()
        assert main(["generate", "--model", str(path), "--key", "D", "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert phrase in err and "export the model again" in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_generate_plans_bars_and_says_so(tmp_path, capsys):
    path, _, _ = _checkpoint(tmp_path / "form.pt", form=True)
    plain, _, _ = _checkpoint(tmp_path / "plain.pt", form=False)
    run = gen.generate_run(str(path), key="D", num=2, seed=1, length=60)
    assert run.settings["planned_bars"] == [gen.DEFAULT_BARS] * 2 and run.settings["plan_source"] == "default"
    given = gen.generate_run(str(path), key="D", num=1, seed=1, length=60, bars=4).settings
    assert given["planned_bars"] == [4] and given["plan_source"] == "--bars"
    assert gen.generate_run(str(path), key="D", num=1, seed=1, exact_length=20).settings["planned_bars"] is None
    assert gen.generate_run(str(plain), key="D", num=1, seed=1, length=20).settings["planned_bars"] is None
    with pytest.raises(ConfigError, match="no form inputs"):
        gen.generate_run(str(plain), key="D", bars=8)
    with pytest.raises(ConfigError, match="exact_length fixes the notes"):
        gen.generate_run(str(path), key="D", bars=8, exact_length=20)
    out = tmp_path / "out"
    assert main(["generate", "--model", str(path), "--key", "G", "--bars", "8", "--seed", "3", "-o", str(out)]) == 0
    assert json.loads((out / "form_G-major_3.json").read_text())["planned_bars"] == [8]
    assert "(8 bars planned, --bars)" in capsys.readouterr().out
    primer = tmp_path / "primer.mid"
    from musicgate.music.midi import write_midi
    from musicgate.music.notes import Notes

    write_midi(Notes.from_arrays(pitch=[62] * 12, onset=np.arange(12.0), duration=[1.0] * 12,
                                 meters=((0.0, 4, 4),)), primer)  # three full 4/4 bars: 3 bar lines or more
    with pytest.raises(ConfigError, match="the primer already has"):
        gen.generate_run(str(path), key="D", bars=2, primer=primer)
    for bad, phrase in ((["--bars", "0"], "must be a whole number >= 1"), (["--model", str(plain)], "no form inputs")):
        args = ["generate", "--model", str(path), "--bars", "8", "-o", str(tmp_path / "bad"), *bad]
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert phrase in err and len(err.splitlines()) == 1 and not (tmp_path / "bad").exists()


def test_the_final_bar_mask_marks_the_last_bar_of_whole_tunes():
    from musicgate.train.loop import final_bar_mask

    tok = make_tokenizer("melody", pitch_range=(21, 108))
    p, d, bar, end = tok.ids["PITCH_62"], tok.ids["DUR_12"], tok.bar_id, tok.ids["REPEAT_END"]
    rows = [[p, d, bar, p, d, p, d, bar, p, d, tok.eos_id, tok.pad_id],   # ends mid-bar after its last bar line
            [p, d, bar, p, d, end, tok.eos_id, tok.pad_id, tok.pad_id, tok.pad_id, tok.pad_id, tok.pad_id],  # ends on :|
            [p, d, bar, p, d, bar, p, d, p, d, p, d]]                     # cropped: no EOS, nothing marked
    mask = final_bar_mask(torch.tensor(rows), tok).int().tolist()
    assert mask[0] == [0] * 8 + [1, 1, 1, 0]
    assert mask[1] == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert mask[2] == [0] * 12
    two = [[p, d, bar, p, d, p, d, tok.bar_id, tok.eos_id, tok.pad_id]]     # a last bar of two notes, closed by |
    assert final_bar_mask(torch.tensor(two), tok).int().tolist()[0] == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0]
    assert final_bar_mask(torch.tensor(two), tok, "note").int().tolist()[0] == [0] * 5 + [1, 1, 1, 1, 0]
    assert final_bar_mask(torch.tensor(rows), tok, "note").int().tolist() == [  # one-note last bars: the same
        [0] * 8 + [1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0], [0] * 12]


def test_a_mode_the_model_rarely_saw_is_said_once(tmp_path, capsys):
    path, _, _ = _checkpoint(tmp_path / "m.pt", form=False, modes={"major": 990, "minor": 5, "dorian": 5})
    notes = gen.generate_run(str(path), key="A dorian", num=1, seed=1, length=8).settings["notes"]
    assert notes == ["m saw 5 dorian tunes among 1,000 in training: it knows the dorian keys less well than the "
                     "major and minor ones and may play a major or minor key instead (on its tonic or with its signature)"]
    assert gen.generate_run(str(path), key="E minor", num=1, seed=1, length=8).settings["notes"]  # 0.5%: rare too
    assert gen.generate_run(str(path), key="D major", num=1, seed=1, length=8).settings["notes"] == []
    common, _, _ = _checkpoint(tmp_path / "c.pt", form=False, modes={"major": 90, "dorian": 10})
    assert gen.generate_run(str(common), key="A dorian", num=1, seed=1, length=8).settings["notes"] == []
    unknown, _, _ = _checkpoint(tmp_path / "u.pt", form=False)  # a checkpoint from before the counts
    assert gen.generate_run(str(unknown), key="A dorian", num=1, seed=1, length=8).settings["notes"] == []
    assert main(["generate", "--model", str(path), "--key", "Ador", "--seed", "3", "-o", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.count("note: m saw 5 dorian tunes") == 1
    (record,) = [json.loads(f.read_text()) for f in (tmp_path / "o").glob("*.json")]
    assert record["notes"] == notes and len(record["note_counts"]) == 1  # the run's JSON keeps the note


class _EagerToEnd(torch.nn.Module):
    """Random logits that want EOS and bar lines, with form inputs (the plan is read and ignored)."""

    has_form_inputs = True

    def __init__(self, tok, seed: int) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.tok, self.rng = tok, np.random.default_rng(seed)

    def _logits(self, n: int) -> torch.Tensor:
        x = self.rng.normal(0.0, 1.0, (n, len(self.tok)))
        x[:, self.tok.eos_id] += 50.0
        x[:, self.tok.barline_ids] += 5.0
        # no open repeat, ending or short last part to hold the end back
        x[:, [self.tok.ids[m] for m in ("REPEAT_START", "ENDING_1", "REPEAT_END", "PART_END")]] -= 50.0
        x[:, [self.tok.ids[f"DUR_{d}"] for d in (1, 2, 3)]] += 8.0   # short notes: many per bar
        return torch.tensor(x, dtype=torch.float32)

    def forward(self, ids, state=None, plan=None):
        b, t = ids.shape
        return self._logits(b * t).reshape(b, t, -1), torch.zeros(1, b, 1)

    def step(self, token, state):
        return self._logits(token.shape[0]), state

    def replan(self, state, rows, totals):
        return state


def test_a_short_plan_lets_a_tune_end_in_its_last_planned_bar_before_the_default_minimum():
    from musicgate.generation.sample import DEFAULT_MIN_LENGTH, sample
    from musicgate.music.keys import Key

    tok = make_tokenizer("melody", pitch_range=(48, 84))
    count = lambda ids, which: int(np.isin(ids, which).sum())  # noqa: E731
    notes = np.flatnonzero(tok.pitch_of >= 0)
    planned = sample(_EagerToEnd(tok, 0), tok, keys=[Key(2)] * 6, length=200, bars=3, seed=1)
    for ids in planned:   # the third planned bar line's bar is the last: the end comes at its first chance
        assert ids[-1] == tok.eos_id and count(ids, tok.barline_ids) == 2
        assert count(ids, notes) < DEFAULT_MIN_LENGTH
    floor = sample(_EagerToEnd(tok, 0), tok, keys=[Key(2)] * 6, length=200, bars=3, min_length=DEFAULT_MIN_LENGTH,
                   seed=1)   # a minimum the user gives holds
    unplanned = sample(_EagerToEnd(tok, 0), tok, keys=[Key(2)] * 6, length=200, seed=1)
    for ids in floor + unplanned:
        assert count(ids, notes) == DEFAULT_MIN_LENGTH   # eager to end: at the minimum exactly


class _TwoParts(torch.nn.Module):
    """A model with form inputs that writes whole-bar notes, closes its first part with ``:|`` at its fifth
    bar line, then wants to end at once; it records the plans the sampler stretches."""

    has_form_inputs = True

    def __init__(self, tok) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.tok, self.replans = tok, []
        self.is_line = torch.zeros(len(tok))
        self.is_line[tok.barline_ids] = 1.0

    def _logits(self, lines: torch.Tensor) -> torch.Tensor:
        tok = self.tok
        x = torch.zeros(len(lines), len(tok))
        x[:, tok.meter_id((4, 4))] = 100.0
        x[:, tok.ids["PITCH_62"]] = x[:, tok.ids["DUR_48"]] = 50.0
        x[:, tok.bar_id] = 20.0
        x[lines == 4, tok.ids["REPEAT_END"]] = 30.0   # the fifth bar line closes the first part
        x[lines >= 6, tok.eos_id] = 60.0               # in the next part, the end wherever the grammar lets it come
        return x

    def forward(self, ids, state=None, plan=None):
        lines = self.is_line[ids].sum(1)
        return self._logits(lines)[:, None].expand(-1, ids.shape[1], -1), lines.reshape(1, -1, 1)

    def step(self, token, state):
        lines = state + self.is_line[token].reshape(1, -1, 1)
        return self._logits(lines[0, :, 0]), lines

    def replan(self, state, rows, totals):
        self.replans.append((rows.tolist(), totals.tolist()))
        return state


def test_a_first_part_past_half_the_plan_stretches_it_and_the_last_part_is_not_cut_short():
    from musicgate.generation.sample import sample
    from musicgate.music.keys import Key

    tok = make_tokenizer("melody", pitch_range=(48, 84))
    model = _TwoParts(tok)
    seqs = sample(model, tok, keys=[Key(2)] * 3, length=100, bars=np.array([6, 20, 9]), min_length=1, seed=0)
    # five bar lines at the :| : plans under ten (6 and 9) become ten, so the rest reads five bar lines left
    assert model.replans == [([0, 2], [10, 10])]
    for ids in seqs:
        words = [tok.vocab[t] for t in ids]
        second = words[words.index("REPEAT_END") + 1:]
        # the end waited for the last part to have 0.6 of the first's five bars: two bar lines and its notes
        assert words[-1] == "EOS" and second.count("BAR") == 2 and second[-2] == "BAR"


@pytest.mark.parametrize("cell", CELLS)
def test_replan_sets_the_plan_of_the_rows_it_names(cell):
    _, model = _pair(cell)
    _randomise(model)
    ids = torch.tensor([[0, 1, BAR, 4], [0, 1, BAR, 5]])
    with torch.no_grad():
        _, state = model(ids, plan=torch.tensor([2, 3]))
        again = model.replan(state, torch.tensor([1]), torch.tensor([9]))
        _, counters, *_ = model._split(again)
        assert counters.tolist() == [[[1, 2], [1, 9]]] and model._split(state)[1].tolist() == [[[1, 2], [1, 3]]]
        out, _ = model.step(torch.tensor([BAR, BAR]), again)
        want, _ = model.step(torch.tensor([BAR, BAR]), state)
        assert torch.equal(out[0], want[0]) and not torch.equal(out[1], want[1])   # row 1 reads 9 - 2 left
    plain = RecurrentLM(vocab_size=9, cell=cell, hidden=8)
    _, s = plain(ids)
    assert plain.replan(s, torch.tensor([0]), torch.tensor([4])) is s   # no plan, nothing to set
