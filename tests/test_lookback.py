"""Lookback inputs: the model reads what the tune played k bars ago at the same point of the bar."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError
from musicgate.nn.lookback import COPY_SCALE, Lookback, check_bars, reference_lookback
from musicgate.nn.models import CELLS, RecurrentLM
from musicgate.tokens.tokenizer import make_tokenizer
from musicgate.train.loop import _start_from
from saved import saved
from streaming import streamed

TOK = make_tokenizer("melody", pitch_range=(60, 84))
V = len(TOK.vocab)
CLOCK = TOK.lookback_clock()


def _ids(*names: str) -> list[int]:
    return [TOK.ids[n] for n in names]


def _bar(*notes: tuple[int, int]) -> list[str]:
    out = []
    for pitch, dur in notes:
        out += [f"PITCH_{pitch}", f"DUR_{dur}"]
    return out + ["BAR"]


def test_a_repeated_bar_is_read_back_note_by_note():
    a = _bar((62, 12), (64, 12), (66, 24))            # one 4/4 bar (48 steps)
    b = _bar((67, 24), (69, 24))
    ids = _ids("BOS", "KEY_D_major", "METER_4/4", *a, *b, *a)
    look = reference_lookback(ids, [1, 2], CLOCK, V)
    third = 3 + len(a) + len(b)                        # index of the third bar's first token
    # After the bar line closing bar 2 (k=2: bar 0's start), the next token two bars back was PITCH_62 ...
    assert look[third - 1, 1] == TOK.ids["PITCH_62"]
    # ... and inside the third bar, k=2 always names the token that comes next (the bar repeats).
    for t in range(third - 1, len(ids) - 1):
        assert look[t, 1] == ids[t + 1]
    # k=1 reads bar 2, whose rhythm differs: after PITCH_62 DUR_12 (step 12) bar 2 had no onset.
    assert look[third + 1, 0] == V
    # Nothing to look back on in the first bar.
    assert (look[:3 + len(a) - 1] == V).all()


def test_rests_ties_and_form_marks_keep_the_clock():
    ids = _ids("BOS", "KEY_G_major", "METER_3/4", "PITCH_67", "DUR_36", "REPEAT_START",
               "REST", "DUR_12", "PITCH_71", "DUR_24", "BAR", "REST", "DUR_12", "PITCH_72", "DUR_12",
               "PITCH_74", "DUR_12", "REPEAT_END")
    look = reference_lookback(ids, [1], CLOCK, V)
    i = ids.index(TOK.ids["BAR"])
    assert look[i, 0] == TOK.ids["REST"]               # after a bar line: bar 1 started with a REST
    assert look[i + 2, 0] == TOK.ids["PITCH_71"]       # step 12 of bar 1: PITCH_71
    assert look[i + 4, 0] == V                         # step 24 of bar 1 fell inside PITCH_71


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(3, V - 1), min_size=1, max_size=80), st.integers(0, 3))
def test_the_module_agrees_with_the_plain_rule_in_one_call_and_step_by_step(tokens, pads):
    ids = tokens + [TOK.pad_id] * pads
    bars = [1, 2, 4]
    want = reference_lookback(ids, bars, CLOCK, V, span=96)
    lb = Lookback(bars, CLOCK, V, 4, span=96)
    whole, memo = lb.ids(torch.tensor([ids]))
    assert np.array_equal(whole[0].numpy(), want)
    m, got = None, []
    for x in ids:
        out, m = lb.ids(torch.tensor([[x]]), m)
        got.append(out[0, 0].numpy())
    assert np.array_equal(np.stack(got), want)
    assert all(torch.equal(a, b) for a, b in zip(memo, m))


def _plain_runs_and_positions(ids, bars, span):
    """Runs and bar positions by the plain rule: a run grows while each token is the lookback's."""
    look = reference_lookback(ids, bars, CLOCK, V, span=span)
    steps = dict(zip(CLOCK["dur_ids"], CLOCK["dur_steps"]))
    prev, run, pos = np.full(len(bars), V), np.zeros(len(bars), np.int64), 0
    runs, where = [], []
    for t, x in enumerate(ids):
        if x != CLOCK["pad_id"]:
            run = np.where(prev == x, run + 1, 0)
            pos = 0 if x in CLOCK["line_ids"] else pos
            pos += steps.get(x, 0)
            prev = look[t]
        runs.append(run.copy())
        where.append(pos)
    return np.stack(runs), np.array(where)


def test_a_repeated_bar_grows_a_run_and_the_position_follows_the_bar():
    a = _bar((62, 12), (64, 12), (66, 24))
    b = _bar((67, 24), (69, 24))
    ids = _ids("BOS", "KEY_D_major", "METER_4/4", *a, *b, *a)
    lb = Lookback([1, 2], CLOCK, V, 4, runs=True, position=True)
    _, runs, pos, _ = lb.read(torch.tensor([ids]))
    third = 3 + len(a) + len(b)
    assert runs[0, third:, 1].tolist() == list(range(1, len(a) + 1))   # k=2: every token of bar 3 matched
    assert runs[0, third + 1, 0] == 0                                  # k=1: bar 2's rhythm differs
    assert pos[0, third - 1:third + 6].tolist() == [0, 0, 12, 12, 24, 24, 48]   # BAR PITCH DUR PITCH ...


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(3, V - 1), min_size=1, max_size=80), st.integers(0, 3), st.integers(1, 79))
def test_runs_and_positions_agree_with_the_plain_rule_across_a_cut(tokens, pads, cut):
    ids = tokens + [TOK.pad_id] * pads
    bars = [1, 2, 4]
    want_runs, want_pos = _plain_runs_and_positions(ids, bars, 96)
    lb = Lookback(bars, CLOCK, V, 4, span=96, runs=True, position=True)
    cut = min(cut, len(ids))
    _, r1, p1, memo = lb.read(torch.tensor([ids[:cut]]))
    _, r2, p2, _ = lb.read(torch.tensor([ids[cut:]]), memo) if cut < len(ids) else (None, r1[:, :0], p1[:, :0], None)
    assert np.array_equal(torch.cat([r1, r2], 1)[0].numpy(), want_runs)
    assert np.array_equal(torch.cat([p1, p2], 1)[0].numpy(), want_pos)


@pytest.mark.parametrize("cell", CELLS)
def test_runs_position_and_copy_stream_as_one_call_and_start_at_zero(cell):
    torch.manual_seed(0)
    base = RecurrentLM(vocab_size=V, cell=cell, hidden=8, layers=2, lookback=[1, 2], lookback_clock=CLOCK).eval()
    model = RecurrentLM(**base.model_args, lookback_runs=True, lookback_position=True, lookback_copy=True).eval()
    model.load_state_dict(base.state_dict(), strict=False)
    a, b = _bar((62, 12), (64, 12), (66, 24)), _bar((67, 24), (69, 24))
    ids = torch.tensor([_ids("BOS", "KEY_D_major", "METER_4/4", *a, *b, *a, *b)])
    assert torch.allclose(model(ids)[0], base(ids)[0])
    with torch.no_grad():
        model.look.run_proj.weight.normal_()
        model.look.pos.weight.normal_()
        model.look.copy_state.weight.normal_()
        model.look.copy_run.weight.normal_()
    whole, _ = model(ids)
    assert not torch.allclose(whole, base(ids)[0])
    assert (streamed(model, ids, 4) - whole).abs().max() < 1e-4 * whole.abs().max()
    assert RecurrentLM(**model.model_args).model_args == model.model_args


def test_the_copy_head_raises_the_named_tokens_by_the_run_class():
    lb = Lookback([1, 4], CLOCK, V, 4, runs=False, copy=True, hidden=3)
    with torch.no_grad():
        lb.copy_run.weight[:] = torch.arange(12.0)[:, None] / COPY_SCALE   # class c of distance j: 6 * j + c
    look = torch.tensor([[[5, 7], [V, 5], [9, 9]]])             # (1, 3, K): none at (1, 0); both name 9 at t=2
    runs = torch.tensor([[[0, 16], [3, 8], [1, 2]]])
    bias = lb.copy_bias(torch.zeros(1, 3, 3), look, runs)
    assert bias.shape == (1, 3, V)
    assert bias[0, 0, 5] == 0 and bias[0, 0, 7] == 6 + 5        # run 16+ -> class 5 of distance 4
    assert bias[0, 1, 5] == 6 + 4 and bias[0, 1].sum() == 10    # the none of distance 1 adds nothing
    assert bias[0, 2, 9] == 6 + 2                               # both distances name 9: the larger bias
    with pytest.raises(ConfigError, match="hidden size"):
        Lookback([1], CLOCK, V, 4, copy=True)


def test_runs_and_position_need_lookback_and_add_to_a_model_that_has_it(tmp_path):
    from musicgate.train.config import ModelConfig

    with pytest.raises(ConfigError, match="set model.lookback too"):
        ModelConfig(lookback_runs=True)
    with pytest.raises(ConfigError, match="set model.lookback too"):
        ModelConfig(lookback_copy=True)
    torch.manual_seed(0)
    base = RecurrentLM(vocab_size=V, cell="gru", hidden=8, layers=1, lookback=[4], lookback_clock=CLOCK)
    path = saved(base, TOK, tmp_path / "m.pt")
    model = RecurrentLM(**base.model_args, lookback_runs=True, lookback_position=True, lookback_copy=True)
    _start_from(model, TOK, str(path))
    assert torch.equal(model.look.proj.weight, base.look.proj.weight)
    assert not model.look.run_proj.weight.any() and not model.look.pos.weight.any()
    assert not model.look.copy_state.weight.any() and not model.look.copy_run.weight.any()
    with pytest.raises(ConfigError, match="different model"):   # a run may add inputs, never drop them
        _start_from(RecurrentLM(vocab_size=V, cell="gru", hidden=8, layers=1), TOK, str(path))


@pytest.mark.parametrize("cell", CELLS)
def test_streaming_equals_one_call_and_a_zero_projection_changes_nothing(cell):
    torch.manual_seed(0)
    plain = RecurrentLM(vocab_size=V, cell=cell, hidden=8, layers=2).eval()
    model = RecurrentLM(**plain.model_args, lookback=[1, 2], lookback_clock=CLOCK).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    a, b = _bar((62, 12), (64, 12), (66, 24)), _bar((67, 24), (69, 24))
    ids = torch.tensor([_ids("BOS", "KEY_D_major", "METER_4/4", *a, *b, *a, *b)])
    assert torch.allclose(model(ids)[0], plain(ids)[0])           # the projection starts at zero
    with torch.no_grad():
        model.look.proj.weight.normal_()
    whole, _ = model(ids)
    assert not torch.allclose(whole, plain(ids)[0])
    assert torch.allclose(streamed(model, ids, 4), whole, atol=1e-5)


def test_a_model_with_lookback_starts_from_one_with_form_inputs_only(tmp_path):

    torch.manual_seed(0)
    form = dict(form_inputs=8, barline_ids=[int(i) for i in TOK.barline_ids])
    plain = RecurrentLM(vocab_size=V, cell="gru", hidden=8, layers=1, **form)
    path = saved(plain, TOK, tmp_path / "m.pt")
    model = RecurrentLM(**plain.model_args, lookback=[4], lookback_clock=CLOCK)
    _start_from(model, TOK, str(path))
    assert torch.equal(model.rnn.weight_hh_l0, plain.rnn.weight_hh_l0)
    assert torch.equal(model.form.count.weight, plain.form.count.weight) and not model.look.proj.weight.any()
    with pytest.raises(ConfigError, match="different model"):
        _start_from(RecurrentLM(**{**plain.model_args, "hidden": 9}, lookback=[4], lookback_clock=CLOCK),
                    TOK, str(path))


@pytest.mark.parametrize("bad", [[], [0], [2, "x"], [1.5], [100]])
def test_bad_distances_get_one_clear_error(bad):
    with pytest.raises(ConfigError, match="lookback must be a list of bar distances"):
        check_bars(bad)


def test_bad_clock_tables_and_configs_are_refused():
    with pytest.raises(ConfigError, match="clock tables"):
        Lookback([1], {"dur_ids": [1]}, V, 4)
    with pytest.raises(ConfigError, match="do not fit"):
        Lookback([1], {**CLOCK, "line_ids": [V + 3]}, V, 4)
    from musicgate.train.config import ModelConfig

    with pytest.raises(ConfigError, match="twice"):
        ModelConfig(lookback=[4, 4])
