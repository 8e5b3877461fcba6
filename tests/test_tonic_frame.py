"""The tonic frame: a model that reads and writes every tune as if its tonic were C."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError
from musicgate.music.keys import MODES
from musicgate.nn.models import CELLS, RecurrentLM
from musicgate.nn.tonic import TonicFrame, frame_shift, frame_table
from musicgate.tokens.tokenizer import make_tokenizer
from musicgate.train.loop import _start_from, tonic_spec
from saved import saved
from streaming import streamed

TOK = make_tokenizer("melody", pitch_range=(48, 96))
V = len(TOK.vocab)
SPEC = tonic_spec(TOK)
EXTRA = dict(form_inputs=8, barline_ids=[int(i) for i in TOK.barline_ids], lookback=[1, 2],
             lookback_clock=TOK.lookback_clock())


def _ids(*names: str) -> list[int]:
    return [TOK.ids[n] for n in names]


def _tune(tonic: int, mode: str = "major") -> list[int]:
    """A 4/4 tune of four bars on ``tonic`` (its first note 60 + tonic, -6 <= tonic <= 11), KEY token first."""
    from musicgate.music.keys import Key

    key = "KEY_" + Key(tonic % 12, mode).tonic_name + "_" + mode
    steps = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 12, 11, 7, 2, 0]
    body = []
    for i, s in enumerate(steps):
        body += [f"PITCH_{60 + tonic + s}", "DUR_12"] + (["BAR"] if i % 4 == 3 else [])
    return _ids("BOS", key, "METER_4/4", *body, "EOS")


def test_each_row_of_the_table_is_a_permutation_that_moves_the_tonic_to_c():
    table = frame_table(SPEC, V)
    assert table.shape == (13, V) and torch.equal(table[12], torch.arange(V))
    for t in range(12):
        assert torch.equal(table[t].sort().values, torch.arange(V))          # a bijection: logits stay a distribution
    d = TOK.ids
    assert table[2, d["PITCH_62"]] == d["PITCH_60"] and table[2, d["KEY_D_dorian"]] == d["KEY_C_dorian"]
    assert table[7, d["PITCH_67"]] == d["PITCH_72"]                            # G is 5 below C: the frame goes up
    assert table[7, d["KEY_A_minor"]] == d["KEY_D_minor"] and table[7, d["BAR"]] == d["BAR"]
    assert [frame_shift(t) for t in range(12)] == [0, 1, 2, 3, 4, 5, -6, -5, -4, -3, -2, -1]


@pytest.mark.parametrize("cell", CELLS)
def test_in_c_and_before_any_key_the_frame_changes_nothing_and_streaming_equals_one_call(cell):
    torch.manual_seed(0)
    plain = RecurrentLM(vocab_size=V, cell=cell, hidden=8, layers=2, **EXTRA).eval()
    model = RecurrentLM(**plain.model_args, tonic_relative=SPEC).eval()
    model.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for name, p in model.named_parameters():      # the lookback projection starts at zero: read it too
            if name.startswith(("look.", "form.")):
                p.normal_(0, 0.3)
        plain.load_state_dict(model.state_dict())
        c = torch.tensor([_tune(0)])
        assert torch.allclose(model(c, plan="tune")[0], plain(c, plan="tune")[0])
        unkeyed = torch.tensor([_tune(2)[2:]])         # no KEY token: nothing moves
        assert torch.allclose(model(unkeyed)[0], plain(unkeyed)[0])
        ids = torch.tensor([_tune(2) + _tune(9, "minor")[1:], _tune(7, "dorian") + _tune(0)[1:]])
        plan = torch.tensor([9, -1])
        whole, _ = model(ids, plan=plan)
        assert not torch.allclose(whole, plain(ids, plan=plan)[0])
        for cut in (1, 2, 30):
            assert torch.allclose(streamed(model, ids, cut, plan=plan), whole, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(st.integers(-6, 5), st.integers(-6, 5), st.sampled_from(["major", "minor", "dorian"]), st.sampled_from(CELLS))
def test_a_tune_moved_to_another_key_gets_the_same_likelihood_and_moved_logits(here, there, mode, cell):
    """Between two tonics the frame takes within a half-octave of C (``here`` and ``there`` semitones
    from it), the model scores a transposed tune as the original, note for note: it reads the same
    frame tokens, and its logits move with the pitches."""
    tonic, to, shift = here % 12, there % 12, there - here
    assert frame_shift(to) - frame_shift(tonic) == shift
    torch.manual_seed(tonic)
    model = RecurrentLM(vocab_size=V, cell=cell, hidden=8, layers=1, tonic_relative=SPEC).eval()
    a, b = torch.tensor([_tune(here, mode)]), torch.tensor([_tune(there, mode)])
    assert torch.equal(torch.as_tensor(TOK.transpose(a[0].numpy(), shift)), b[0])
    with torch.no_grad():
        la, lb = model(a)[0][0], model(b)[0][0]
    nll = lambda L, x: -torch.log_softmax(L[1:-1], -1).gather(1, x[0, 2:, None]).sum()   # after the KEY token
    assert torch.allclose(nll(la, a), nll(lb, b), atol=1e-4)
    pitches = np.flatnonzero(TOK.pitch_of >= 0)
    inside = pitches[(TOK.pitch_of[pitches] + shift >= 48) & (TOK.pitch_of[pitches] + shift <= 96 - 6)]
    moved = TOK.token_of_pitch()[TOK.pitch_of[inside] + shift]
    assert torch.allclose(la[2:, inside], lb[2:, moved], atol=1e-5)


def test_a_model_with_the_frame_starts_from_one_without(tmp_path):
    torch.manual_seed(0)
    plain = RecurrentLM(vocab_size=V, cell="lstm", hidden=8, layers=1, **EXTRA)
    path = saved(plain, TOK, tmp_path / "m.pt")
    model = RecurrentLM(**plain.model_args, tonic_relative=SPEC)
    _start_from(model, TOK, str(path))
    assert torch.equal(model.rnn.weight_hh_l0, plain.rnn.weight_hh_l0) and model.has_tonic_frame
    assert RecurrentLM(**model.model_args).model_args == model.model_args
    assert not plain.has_tonic_frame and "tonic_relative" not in plain.model_args


def test_a_saved_model_keeps_its_frame(tmp_path):
    from musicgate.nn.hub import load_model

    model = RecurrentLM(vocab_size=V, cell="gru", hidden=8, layers=1, tonic_relative=SPEC).eval()
    loaded, tok, _ = load_model(str(saved(model, TOK, tmp_path / "m.pt")))
    ids = torch.tensor([_tune(5)])
    assert loaded.has_tonic_frame and torch.allclose(loaded(ids)[0], model(ids)[0])


@pytest.mark.parametrize("spec", [[3], ["x", 7, 1, 2], [-1, 7, 100, 49], [3, 0, 100, 49], [3, 7, 100, 11],
                                  [3, 7, V - 10, 49], [3, 7, 5, 49]])
def test_bad_frame_specs_get_one_clear_error(spec):
    with pytest.raises(ConfigError, match="tonic_relative"):
        TonicFrame(spec, V)


def test_vocabularies_without_a_pitch_per_semitone_are_refused():
    from musicgate.train.config import ModelConfig
    from musicgate.train.loop import resolve_model_args

    event = make_tokenizer("event", pitch_range=(48, 84))
    for tok in (None, event):
        with pytest.raises(ConfigError, match="tonic_relative needs the melody vocabulary"):
            resolve_model_args(ModelConfig(cell="gru", hidden=8, tonic_relative=True), V, tokenizer=tok)
    args = resolve_model_args(ModelConfig(cell="gru", hidden=8, tonic_relative=True), V, tokenizer=TOK)
    assert args["tonic_relative"] == [TOK.key_base, len(MODES), TOK.ids["PITCH_48"], 49]
