"""``Tokenizer.note_index``: the note each token position belongs to, in one linear pass, equal to
what decoding every prefix says."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicgate.tokens.tokenizer import make_tokenizer
from test_tokenizer import notes_strategy

MELODY = [make_tokenizer("melody"), make_tokenizer("melody", form=False),
          make_tokenizer("melody", grid=4, pitch_range=(48, 84), max_beats=4)]
EVENT = [make_tokenizer("event"), make_tokenizer("event", programs=True)]


def prefix_counts(tok, ids) -> np.ndarray:
    """The quadratic definition: notes decoded from each prefix, minus one."""
    return np.array([len(tok.decode(ids[: t + 1])) for t in range(len(ids))]) - 1


@pytest.mark.parametrize("tok", MELODY + EVENT, ids=lambda t: f"{t.kind}-{t.grid}-{getattr(t, 'form', '')}"
                         f"{getattr(t, 'programs', '')}")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_note_index_equals_prefix_decoding_of_encoded_tunes(tok, data):
    notes = data.draw(notes_strategy(tok.pitch_range))
    ids = tok.encode(notes)
    index = tok.note_index(ids)
    assert index.shape == (len(ids),) and index.dtype == np.int64
    np.testing.assert_array_equal(index, prefix_counts(tok, ids))
    assert index[-1] + 1 == len(tok.decode(ids))


@pytest.mark.parametrize("tok", MELODY, ids=lambda t: f"{t.grid}-{t.form}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_note_index_on_any_melody_token_soup(tok, data):
    """Stray tokens (a DUR after a DUR, a PITCH without DUR, TIEs, BARs in between) count as decode does."""
    ids = np.array(data.draw(st.lists(st.integers(0, len(tok) - 1), max_size=60)), np.int64)
    np.testing.assert_array_equal(tok.note_index(ids), prefix_counts(tok, ids))


def test_note_index_by_hand():
    tok = make_tokenizer("melody", form=False, pitch_range=(48, 84))
    v = tok.ids
    ids = [v["BOS"], v["KEY_C_major"], v["METER_4/4"], v["BAR"], v["PITCH_60"], v["DUR_12"], v["REST"], v["DUR_6"],
           v["PITCH_62"], v["BAR"], v["DUR_6"], v["EOS"]]
    #                  BOS KEY MET BAR  P  D  R  D  P BAR  D EOS
    assert tok.note_index(ids).tolist() == [-1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 1, 1]
    assert tok.note_index([]).tolist() == []
