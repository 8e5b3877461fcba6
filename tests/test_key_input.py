"""Key inputs: the model reads the tonic and mode of the asked key before every token."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError
from musicgate.music.keys import MODES
from musicgate.nn.keyinput import KeyInput
from musicgate.nn.models import CELLS, RecurrentLM
from musicgate.tokens.tokenizer import make_tokenizer
from musicgate.train.loop import _start_from
from saved import saved
from streaming import streamed

TOK = make_tokenizer("melody", pitch_range=(60, 84))
V = len(TOK.vocab)
SPEC = [TOK.key_base, len(MODES)]
FORM = dict(form_inputs=8, barline_ids=[int(i) for i in TOK.barline_ids])


def _ids(*names: str) -> list[int]:
    return [TOK.ids[n] for n in names]


TUNE = ["PITCH_62", "DUR_12", "PITCH_64", "DUR_12", "PITCH_66", "DUR_24", "BAR", "PITCH_67", "DUR_48", "BAR"]


def test_each_position_reads_the_last_key_token_seen_or_the_carried_one():
    key = KeyInput(SPEC, V, 4)
    ids = torch.tensor([_ids("BOS", "KEY_D_major", "METER_4/4", *TUNE[:4], "KEY_A_dorian", *TUNE[:2]),
                        _ids("PITCH_62", "DUR_12", "BOS", "KEY_unknown", "METER_4/4", *TUNE[:5])])
    got = key.current(ids, torch.tensor([[[-1], [TOK.ids["KEY_E_minor"]]]]))
    d, a, e = TOK.ids["KEY_D_major"], TOK.ids["KEY_A_dorian"], TOK.ids["KEY_E_minor"]
    assert got[0].tolist() == [-1] + [d] * 6 + [a] * 3
    assert got[1].tolist() == [e] * 10     # KEY_unknown names no key: the carried one stays
    idx = torch.tensor([a])
    assert key.tonic_of[idx].item() == 9 and MODES[key.mode_of[idx].item()] == "dorian"


@pytest.mark.parametrize("cell", CELLS)
def test_streaming_equals_one_call_and_zero_tables_change_nothing(cell):
    torch.manual_seed(0)
    plain = RecurrentLM(vocab_size=V, cell=cell, hidden=8, layers=2, **FORM).eval()
    model = RecurrentLM(**plain.model_args, key_input=SPEC).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    ids = torch.tensor([_ids("BOS", "KEY_D_major", "METER_4/4", *TUNE, *TUNE),
                        _ids("BOS", "KEY_B_minor", "METER_4/4", *TUNE, *TUNE)])
    plan = torch.tensor([4, -1])
    assert torch.allclose(model(ids, plan=plan)[0], plain(ids, plan=plan)[0])   # the tables start at zero
    with torch.no_grad():
        model.key.tonic.weight.normal_()
        model.key.mode.weight.normal_()
    whole, _ = model(ids, plan=plan)
    assert not torch.allclose(whole, plain(ids, plan=plan)[0])
    assert torch.allclose(streamed(model, ids, 5, plan=plan), whole, atol=1e-5)
    model.key.enabled = False                     # no key read: the tables' "none" rows only
    off, _ = model(ids, plan=plan)
    model.key.tonic.weight.data[:12] = model.key.tonic.weight.data[12]      # every key reads as none
    model.key.mode.weight.data[:len(MODES)] = model.key.mode.weight.data[len(MODES)]
    model.key.enabled = True
    assert torch.allclose(model(ids, plan=plan)[0], off, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["KEY_D_major", "KEY_A_dorian", "PITCH_62", "DUR_12", "BAR", "PAD"]),
                min_size=1, max_size=30), st.integers(1, 29))
def test_carrying_the_key_across_a_cut_changes_nothing(names, cut):
    key = KeyInput(SPEC, V, 4)
    ids = torch.tensor([_ids(*names)])
    cut = min(cut, len(names))
    whole = key.current(ids, None)
    _, last = key(ids[:, :cut], None)
    assert torch.equal(torch.cat([whole[:, :cut], key.current(ids[:, cut:], last)], 1), whole)


def test_key_dropout_reads_no_key_in_training_only():
    torch.manual_seed(0)
    key = KeyInput(SPEC, V, 4, dropout=0.5)
    with torch.no_grad():
        key.tonic.weight.normal_()
    ids = torch.tensor([_ids("BOS", "KEY_G_major", "PITCH_62")] * 64)
    none = key.tonic.weight[12] + key.mode.weight[len(MODES)]
    out, _ = key.train()(ids, None)
    off = torch.isclose(out[:, 2], none).all(-1)
    assert 10 < int(off.sum()) < 54                              # about half the rows, whole rows
    assert torch.equal(torch.isclose(out[:, 1], none).all(-1), off)
    out, _ = key.eval()(ids, None)
    assert not torch.isclose(out[:, 2], none).all(-1).any()


def test_a_model_with_key_inputs_starts_from_one_without(tmp_path):
    torch.manual_seed(0)
    plain = RecurrentLM(vocab_size=V, cell="gru", hidden=8, layers=1, **FORM)
    path = saved(plain, TOK, tmp_path / "m.pt")
    model = RecurrentLM(**plain.model_args, key_input=SPEC, key_dropout=0.25)
    _start_from(model, TOK, str(path))
    assert torch.equal(model.rnn.weight_hh_l0, plain.rnn.weight_hh_l0) and not model.key.tonic.weight.any()
    assert RecurrentLM(**model.model_args).model_args == model.model_args
    with pytest.raises(ConfigError, match="different model"):
        _start_from(RecurrentLM(**{**plain.model_args, "hidden": 9}, key_input=SPEC), TOK, str(path))


@pytest.mark.parametrize("spec", [[3], ["x", 7], [-1, 7], [3, 0], [V - 10, 7]])
def test_bad_key_input_specs_get_one_clear_error(spec):
    with pytest.raises(ConfigError, match="key_input"):
        KeyInput(spec, V, 4)


def test_bad_key_dropout_and_vocabularies_without_keys_are_refused():
    with pytest.raises(ConfigError, match="key_dropout"):
        KeyInput(SPEC, V, 4, dropout=1.0)
    from musicgate.train.config import ModelConfig
    from musicgate.train.loop import resolve_model_args

    with pytest.raises(ConfigError, match="KEY tokens"):
        resolve_model_args(ModelConfig(cell="gru", hidden=8, key_input=True), 40, tokenizer=None)
    args = resolve_model_args(ModelConfig(cell="gru", hidden=8, key_input=True), V, tokenizer=TOK)
    assert args["key_input"] == SPEC and args["key_dropout"] == 0.25
