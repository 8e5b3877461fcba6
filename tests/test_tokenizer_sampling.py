"""What a sampler asks of a vocabulary: its tokenizer's methods, with no switch on the kind."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tokenizer import notes_strategy

from musicgate.errors import ConfigError, TokenizerError
from musicgate.music.keys import Key
from musicgate.music.notes import Notes
from musicgate.tokens.grammar import MelodyGrammar
from musicgate.tokens.tokenizer import make_tokenizer

TOKENIZERS = [make_tokenizer("melody", pitch_range=(21, 108)), make_tokenizer("melody", form=True),
              make_tokenizer("event"), make_tokenizer("event", programs=True)]
IDS = ["melody", "melody-form", "event", "event-programs"]


@pytest.mark.parametrize("tok", TOKENIZERS, ids=IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_note_starts_count_the_notes_that_decode(tok, data):
    ids = tok.encode(data.draw(notes_strategy(tok.pitch_range)))
    assert int(tok.note_starts()[ids].sum()) == len(tok.decode(ids))


@pytest.mark.parametrize("tok", TOKENIZERS, ids=IDS)
def test_fillers_start_no_note_and_a_closed_sequence_can_only_end(tok):
    starts, fillers = tok.note_starts(), tok.fillers()
    assert not (starts & fillers).any() and fillers.any()
    assert not fillers[[tok.bos_id, tok.eos_id]].any()
    words = np.array(tok.vocab)
    if tok.kind == "melody":
        assert set(words[fillers]) >= {"BAR", "REST"} and all(w.startswith(("PITCH_",)) for w in words[starts])
    else:
        assert all(w.startswith("NOTE_ON_") for w in words[starts])
        assert {w.split("_")[0] for w in words[fillers]} <= {"SHIFT", "VEL", "PROGRAM", "DRUM"}
    tune = Notes.from_arrays([60, 62, 64, 65], [0, 1, 2, 3], [1, 1, 1, 1], keys=((0.0, Key(0, "major")),),
                             meters=((0.0, 4, 4),))
    ids = tok.encode(tune)
    assert _closed(tok, ids[:-1]) == ["EOS"]  # the whole tune but its EOS: it ends at once
    if tok.kind == "event":  # a note still sounding: it lasts a step, then ends, then the piece
        last_on = int(np.flatnonzero(starts[ids])[-1])
        assert {w.split("_")[0] for w in _closed(tok, ids[:last_on + 1])} == {"SHIFT"}
        assert _closed(tok, ids[:last_on + 2]) == ["NOTE_OFF_65"]
    else:  # in the middle of a note: its duration, never a new pitch
        assert all(w.startswith("DUR_") for w in _closed(tok, ids[:5]))


def _closed(tok, prefix: np.ndarray) -> list[str]:
    grammar = tok.sampling_grammar(None)
    state = grammar.start(1, prefix[None])
    mask = grammar.allowed(state)
    tok.close(grammar, state, mask, np.array([0]))
    return [tok.vocab[i] for i in np.flatnonzero(mask[0])]


def test_sampling_grammar_and_primer_checks_come_from_the_vocabulary():
    melody, event = TOKENIZERS[0], TOKENIZERS[2]
    assert isinstance(melody.sampling_grammar(None), MelodyGrammar) and melody.sampling_grammar(None).meter
    assert not melody.sampling_grammar(False).meter
    assert type(event.sampling_grammar(None)) is type(event.grammar())
    with pytest.raises(ConfigError, match="needs a melody-vocabulary model; this one uses the event vocabulary"):
        event.sampling_grammar(True)
    for tok in (melody, event):
        with pytest.raises(TokenizerError, match=f"not a valid start of a {tok.kind} sequence"):
            tok.check_primer(np.array([tok.bos_id]))
    held = event.encode(Notes.from_arrays([60, 64], [0, 0], [4, 4]))
    on = np.flatnonzero(event.note_starts()[held])[-1]
    with pytest.raises(TokenizerError, match="still sounding"):
        event.check_primer(held[:on + 1])
    event.check_primer(held[:-1])  # the whole piece: every note has ended


@pytest.mark.parametrize("tok", [TOKENIZERS[0], TOKENIZERS[2]], ids=["melody", "event"])
def test_export_counts_notes_with_the_vocabulary_method(tok):
    import torch

    from musicgate.nn.models import RecurrentLM
    from musicgate.train.export import nll_per_note

    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=8, layers=1)
    tunes = [tok.encode(Notes.from_arrays([60, 64, 67, 72][:n], np.arange(n), np.ones(n),
                                          keys=((0.0, Key(7, "major")),))) for n in (2, 4)]
    scores = nll_per_note(model, tok, tunes)
    assert scores["notes"] == sum(len(tok.decode(t)) for t in tunes) == 6
    assert scores["tokens"] == sum(len(t) - 1 for t in tunes)
    assert scores["nll_per_note"] == pytest.approx(scores["nll_per_token"] * scores["tokens"] / 6)
