"""Batched, grammar-constrained sampling: every sequence decodes, lengths count notes, args are checked.

The meter-true grammar and the min/max lengths have their own tests in test_meter_grammar.py."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError, TokenizerError
from musicgate.music.keys import MAJOR_MINOR_KEYS, Key, parse_key
from musicgate.nn.models import RecurrentLM
from musicgate.music.notes import Notes
from musicgate.generation.sample import MAX_TOKENS_PER_NOTE, grammar_for, sample
from musicgate.tokens.tokenizer import make_tokenizer

TOKENIZERS = {
    "melody": make_tokenizer("melody", pitch_range=(21, 108)),
    "event": make_tokenizer("event", pitch_range=(21, 108), velocity_bins=16),
}


class RandomLogits(torch.nn.Module):
    """A stand-in model whose logits are random (optionally with inf, -inf, NaN and huge values)."""

    def __init__(self, vocab: int, seed: int, extreme: bool = False, favour: int | None = None) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.vocab, self.extreme, self.favour = vocab, extreme, favour
        self.rng = np.random.default_rng(seed)
        self.step_calls: list[int] = []

    def _logits(self, n: int) -> torch.Tensor:
        x = self.rng.normal(0.0, 4.0, (n, self.vocab))
        if self.extreme:
            pick = self.rng.random(x.shape)
            x[pick < 0.05] = np.inf
            x[(pick >= 0.05) & (pick < 0.10)] = -np.inf
            x[(pick >= 0.10) & (pick < 0.15)] = np.nan
            x[(pick >= 0.15) & (pick < 0.20)] = 1e30
        if self.favour is not None:
            x[:, self.favour] = 1e6
        return torch.tensor(x, dtype=torch.float32)

    def forward(self, ids, state=None):
        b, t = ids.shape
        return self._logits(b * t).reshape(b, t, -1), torch.zeros(1, b, 1)

    def step(self, token, state):
        assert token.shape == (state.shape[1],)  # one token per live row: streaming, O(1) per step
        self.step_calls.append(int(token.shape[0]))
        return self._logits(token.shape[0]), state


def new_notes(tok, ids, primer_len: int = 0) -> np.ndarray:
    """Pitches of the note-start tokens after the primer."""
    body = np.asarray(ids)[primer_len:]
    return tok.pitch_of[body[tok.note_starts()[body]]]


def primer_ids(tok) -> np.ndarray:
    notes = Notes.from_arrays([62, 66, 69, 74, 73], [0, 1, 2, 3, 4], [1, 1, 1, 0.5, 1.5], key="D major", meter=(3, 4))
    return tok.encode(notes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(TOKENIZERS)), seed=st.integers(0, 2**31 - 1), length=st.integers(1, 12),
       batch=st.integers(1, 3), temperature=st.floats(0.01, 20.0), top_k=st.none() | st.integers(1, 400),
       top_p=st.none() | st.floats(0.001, 1.0), key_mask=st.booleans(),
       ngram=st.none() | st.integers(1, 3), extreme=st.booleans(), primed=st.booleans(),
       meter=st.booleans(), exact=st.booleans(), min_p=st.none() | st.floats(0.0, 0.999),
       max_run=st.none() | st.integers(1, 3))
def test_random_logits_always_decode(kind, seed, length, batch, temperature, top_k, top_p, key_mask, ngram,
                                     extreme, primed, meter, exact, min_p, max_run):
    tok = TOKENIZERS[kind]
    model = RandomLogits(len(tok), seed, extreme)
    keys = [MAJOR_MINOR_KEYS[(seed + i) % 24] for i in range(batch)]
    primer = primer_ids(tok) if primed else None
    meter = meter and kind == "melody"
    low = length if exact else min(length, 3)
    seqs = sample(model, tok, keys=keys, length=length, min_length=None if exact else low, exact=exact,
                  meter=meter, temperature=temperature, top_k=top_k, top_p=top_p, key_mask=key_mask,
                  no_repeat_ngram=ngram, primer_ids=primer, seed=seed, min_p=min_p, max_run=max_run)
    grammar, strict = tok.grammar(), grammar_for(tok, meter if kind == "melody" else None)
    primer_notes = 5 if primed else 0
    assert len(seqs) == batch
    for key, ids in zip(keys, seqs):
        assert ids[-1] == tok.eos_id and grammar.is_valid(ids)
        new = len(new_notes(tok, ids, 0 if primer is None else len(primer) - 1))
        if not primed:  # the primer (3/4, full bars) may end mid-bar; the meter state then carries on
            assert strict.is_valid(ids, style=new < length)   # a tune cut at the maximum ends where it may
        notes = tok.decode(ids)
        assert low <= len(notes) - primer_notes <= length
        assert notes.key == key
        assert low <= len(new_notes(tok, ids, 0 if primer is None else len(primer) - 1)) <= length


@pytest.mark.parametrize("kwargs, phrase", [
    ({"length": 0}, "length must be a positive"),
    ({"length": -3}, "length must be a positive"),
    ({"temperature": 0.0}, "temperature must be"),
    ({"temperature": -1.0}, "temperature must be"),
    ({"temperature": float("nan")}, "temperature must be"),
    ({"top_p": 0.0}, "top-p must be in (0, 1]"),
    ({"top_p": 1.5}, "top-p must be in (0, 1]"),
    ({"top_p": -0.2}, "top-p must be in (0, 1]"),
    ({"top_k": 0}, "top-k must be"),
    ({"min_p": 1.0}, "min-p must be in [0, 1)"),
    ({"min_p": -0.1}, "min-p must be in [0, 1)"),
    ({"min_p": "a lot"}, "min-p must be a number"),
    ({"no_repeat_ngram": 0}, "no-repeat-ngram"),
    ({"max_run": 0}, "max-run must be a whole number of notes >= 1"),
    ({"max_run": 2.5}, "max-run must be a whole number"),
    ({"max_run": True}, "max-run must be a whole number"),
    ({"min_length": 0}, "min-length must be a positive"),
    ({"min_length": 5}, "min-length 5 is greater than the maximum length 4"),
    ({"meter": True, "tok": "event"}, "meter grammar needs a melody-vocabulary model"),
    ({"keys": []}, "keys is empty"),
    ({"keys": [None], "key_mask": True}, "key_mask needs a key"),
])
def test_bad_arguments_raise_config_error(kwargs, phrase):
    kwargs = dict(kwargs)
    tok = TOKENIZERS[kwargs.pop("tok", "melody")]
    args = {"keys": [Key(2)], "length": 4, **kwargs}
    with pytest.raises(ConfigError, match=phrase.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")) as err:
        sample(RandomLogits(len(tok), 0), tok, **args)
    assert "\n" not in str(err.value)


def test_min_p_keeps_exactly_the_tokens_at_least_min_p_times_as_likely_as_the_best():
    from musicgate.generation.sample import _filter_logits

    probs = torch.tensor([[0.5, 0.2, 0.11, 0.09, 0.06, 0.04], [0.25, 0.25, 0.2, 0.15, 0.1, 0.05]])
    for min_p in (0.0, 0.1, 0.2, 0.5):
        kept = torch.isfinite(_filter_logits(probs.log(), temperature=1.0, top_k=None, top_p=None, min_p=min_p))
        assert torch.equal(kept, probs >= min_p * probs.max(dim=1, keepdim=True).values)
    # after the temperature: at T = 0.5, p ~ p^2, so 0.2 / 0.5 = 0.4 becomes 0.16 < 0.2 and is dropped
    x = _filter_logits(probs.log(), temperature=0.5, top_k=None, top_p=None, min_p=0.2)
    assert torch.isfinite(x[0]).tolist() == [True, False, False, False, False, False]
    # the exempt token (the sampler passes EOS) stays, with its probability unchanged relative to the rest
    x = _filter_logits(probs.log(), temperature=1.0, top_k=None, top_p=None, min_p=0.5, min_p_exempt=5)
    assert torch.isfinite(x[0]).tolist() == [True, False, False, False, False, True]
    assert torch.allclose(x[0, 5] - x[0, 0], (probs[0, 5] / probs[0, 0]).log())
    x = _filter_logits(probs.log(), temperature=1.0, top_k=None, top_p=None, min_p=0.5, min_p_exempt=[2, 5])
    assert torch.isfinite(x[0]).tolist() == [True, False, True, False, False, True]


def test_min_p_leaves_the_form_tokens_their_probability():
    """A repeat sign the model gives 0.1 where BAR has 0.9 survives min-p 0.2: which bar line, and the
    end, keep the model's own probabilities (min-p trims unlikely notes)."""
    from musicgate.generation.sample import _filter_logits, _Vocab

    tok = make_tokenizer("melody", pitch_range=(60, 72))
    voc = _Vocab.of(tok)
    assert set(voc.form_ids) == {tok.eos_id, *map(int, tok.barline_ids)}
    assert tok.ids["REPEAT_END"] in voc.form_ids and tok.ids["PITCH_60"] not in voc.form_ids
    from musicgate.generation import sample as sampling

    probs = torch.full((1, len(tok)), 1e-6)
    probs[0, tok.bar_id], probs[0, tok.ids["REPEAT_END"]], probs[0, tok.ids["PITCH_60"]] = 0.8, 0.1, 0.1
    x = _filter_logits(probs.log(), temperature=1.0, top_k=None, top_p=None, min_p=0.2, min_p_exempt=voc.form_ids)
    assert torch.isfinite(x[0, tok.ids["REPEAT_END"]]) and not torch.isfinite(x[0, tok.ids["PITCH_60"]])
    # ... and the sampler passes them at every step
    seen = []

    def spy(x, **kw):
        seen.append(kw["min_p_exempt"])
        return _filter_logits(x, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(sampling, "_filter_logits", spy)
    try:
        sampling.sample(tiny_lm(tok), tok, keys=[parse_key("D major")], length=6, min_p=0.2, seed=0)
    finally:
        mp.undo()
    assert seen and all(set(e) == set(voc.form_ids) for e in seen)


def tiny_lm(tok, cell="gru", hidden=16, seed=0):
    torch.manual_seed(seed)
    return RecurrentLM(vocab_size=len(tok), cell=cell, hidden=hidden, layers=2).eval()


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_same_seed_same_music_and_seeds_differ(kind):
    tok = TOKENIZERS[kind]
    model = tiny_lm(tok)
    keys = [parse_key("D major"), parse_key("E minor")]
    a = sample(model, tok, keys=keys, length=30, seed=7)
    b = sample(model, tok, keys=keys, length=30, seed=7)
    c = sample(model, tok, keys=keys, length=30, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(len(x) == len(y) and np.array_equal(x, y) for x, y in zip(a, c))
    assert [tok.key_of(x) for x in a] == keys


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_key_mask_keeps_new_notes_in_the_signature_and_is_off_by_default(kind):
    tok = TOKENIZERS[kind]
    model = tiny_lm(tok, seed=1)
    key = parse_key("Eb major")
    masked = sample(model, tok, keys=[key] * 3, length=60, key_mask=True, seed=3)
    for ids in masked:
        assert set(new_notes(tok, ids) % 12) <= set(key.pitch_classes)
    free = sample(model, tok, keys=[key] * 3, length=60, seed=3)  # an untrained model wanders out of key
    assert any(not set(new_notes(tok, ids) % 12) <= set(key.pitch_classes) for ids in free)


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_no_repeat_ngram_forbids_repeated_pitch_ngrams(kind):
    tok = TOKENIZERS[kind]
    favourite = int(np.flatnonzero(tok.note_starts() & (tok.pitch_of == 60))[0])
    model = RandomLogits(len(tok), 5, favour=favourite)  # plays middle C whenever it may
    (plain,) = sample(model, tok, keys=[Key(0)], length=40, seed=0)
    if kind == "melody":  # without the ban it repeats (the event grammar cannot re-strike a sounding pitch)
        assert (new_notes(tok, plain) == 60).all()
    for n in (1, 2, 3):
        for ids in sample(model, tok, keys=[Key(0)] * 2, length=40, exact=True, no_repeat_ngram=n, seed=n):
            p = new_notes(tok, ids).tolist()
            grams = [tuple(p[i:i + n]) for i in range(len(p) - n + 1)]
            assert len(grams) == len(set(grams)) and len(p) == 40


def longest_runs(pitches) -> int:
    p = np.asarray(pitches)
    change = np.flatnonzero(np.diff(p) != 0)
    return int(np.diff(np.concatenate([[-1], change, [len(p) - 1]])).max())


@pytest.mark.parametrize("limit", [1, 2, 3, 6])
def test_max_run_caps_notes_of_one_pitch_in_a_row_and_nothing_else(limit):
    tok = TOKENIZERS["melody"]
    c4 = int(np.flatnonzero(tok.note_starts() & (tok.pitch_of == 60))[0])
    model = RandomLogits(len(tok), 5, favour=c4)  # plays middle C whenever it may
    (plain,) = sample(model, tok, keys=[Key(0)], length=40, exact=True, seed=0)
    assert longest_runs(new_notes(tok, plain)) == 40  # the loop the cap is for
    for ids in sample(model, tok, keys=[Key(0)] * 3, length=40, exact=True, max_run=limit, seed=limit):
        p = new_notes(tok, ids)
        assert len(p) == 40 and longest_runs(p) == limit
        # the cap moves only the note after a full run: C comes back at once (the model's favourite)
        starts = np.flatnonzero(np.r_[True, np.diff(p) != 0])
        assert (p[starts[::2]] == 60).all() and (np.diff(starts)[::2] == limit).all()


def test_max_run_counts_the_primers_last_notes():
    tok = TOKENIZERS["melody"]
    d = int(np.flatnonzero(tok.note_starts() & (tok.pitch_of == 62))[0])
    primer = tok.encode(Notes.from_arrays([60, 62, 62, 62], [0, 1, 2, 3], [1, 1, 1, 1], key="D major", meter=(4, 4)))
    model = RandomLogits(len(tok), 1, favour=d)
    (ids,) = sample(model, tok, keys=[None], length=6, exact=True, primer_ids=primer, max_run=4, seed=0)
    p = new_notes(tok, ids).tolist()
    assert p[:5] == [60, 62, 62, 62, 62] and p[5] != 62  # three D's in the primer, one more, then another pitch


@pytest.mark.parametrize("meter", [True, False])
def test_medley_sampling_plays_tunes_back_to_back_until_the_notes_are_there(meter):
    from musicgate.generation.sample import medley_notes

    tok = TOKENIZERS["melody"]
    model = RandomLogits(len(tok), 3, favour=tok.eos_id)  # ends a tune whenever it may
    seqs = sample(model, tok, keys=[parse_key("G major"), parse_key("E minor")], length=50, min_length=8,
                  exact=True, meter=meter, medley=True, seed=1)
    strict = grammar_for(tok, meter)
    for ids, key in zip(seqs, ("G major", "E minor")):
        assert ids[-1] == tok.eos_id
        header, body = ids[:3], ids[3:-1]
        cuts = np.flatnonzero(body == tok.eos_id)
        tunes = np.split(body, cuts)
        tunes = [tunes[0]] + [t[1:] for t in tunes[1:]]
        assert len(tunes) >= 3       # 50 notes in tunes of 8 or more (an open repeat or ending holds an end back)
        counts = [int(tok.note_starts()[t].sum()) for t in tunes]
        assert sum(counts) == 50 and min(counts[:-1]) >= 8                # EOS only once a tune has 8 notes
        for i, t in enumerate(tunes):   # each tune is a tune of its own; the last, cut at 50, may break style
            assert strict.is_valid(np.concatenate([header, t, [tok.eos_id]]), style=i < len(tunes) - 1)
        notes = medley_notes(tok, ids)
        assert len(notes) == 50 and notes.key == parse_key(key)
        assert notes.pitch.tolist() == tok.pitch_of[body[tok.note_starts()[body]]].tolist()
        assert (np.diff(notes.onset) >= 0).all()                           # one tune after another
    plain = sample(model, tok, keys=[parse_key("G major")], length=50, min_length=8, meter=meter, seed=1)[0]
    assert (plain == tok.eos_id).sum() == 1 and 8 <= int(tok.note_starts()[plain].sum()) < 50  # without: one tune, ended by the model


@pytest.mark.parametrize("kind, favoured", [("melody", "BAR"), ("melody", "REST"), ("melody", "EOS"),
                                            ("event", "SHIFT_1"), ("event", "VEL_3"), ("event", "EOS")])
def test_length_is_reached_even_when_the_model_refuses_notes(kind, favoured):
    """EOS is masked until the notes are there; a model stuck on non-note tokens hits the token budget."""
    tok = TOKENIZERS[kind]
    length = 6
    model = RandomLogits(len(tok), 0, favour=tok.ids[favoured])
    (ids,) = sample(model, tok, keys=[Key(7)], length=length, exact=True, seed=0)
    assert len(tok.decode(ids)) == length
    assert len(ids) <= MAX_TOKENS_PER_NOTE * length + 64 + 4 * length + 200


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_primer_is_continued_with_each_sequence_key(kind):
    tok = TOKENIZERS[kind]
    primer = primer_ids(tok)
    keys = [None, parse_key("A minor")]
    seqs = sample(tiny_lm(tok), tok, keys=keys, length=5, primer_ids=primer, seed=2)
    body = primer[:-1]
    assert np.array_equal(seqs[0][:len(body)], body)  # None keeps the primer's own KEY token
    assert np.array_equal(np.delete(seqs[1][:len(body)], 1), np.delete(body, 1))
    assert tok.key_of(seqs[0]) == parse_key("D major") and tok.key_of(seqs[1]) == parse_key("A minor")
    assert [len(tok.decode(s)) for s in seqs] == [10, 10]


def test_invalid_primer_ids_are_rejected():
    tok = TOKENIZERS["melody"]
    ids = primer_ids(tok)
    swapped = np.r_[ids[0], ids[2], ids[1], ids[3:]]  # BOS METER KEY ...: out of order
    with pytest.raises(TokenizerError, match="not a valid start"):
        sample(tiny_lm(tok), tok, keys=[None], length=3, primer_ids=swapped)
    ev = TOKENIZERS["event"]
    ids = primer_ids(ev)
    on = np.flatnonzero(ev.note_starts()[ids])[-1]
    with pytest.raises(TokenizerError, match="still sounding"):
        sample(tiny_lm(ev), ev, keys=[None], length=3, primer_ids=ids[:on + 1])


def test_one_model_step_per_position_for_the_whole_batch():
    tok = TOKENIZERS["melody"]
    model = RandomLogits(len(tok), 3)
    seqs = sample(model, tok, keys=[Key(i) for i in range(12)], length=20, seed=1)
    longest = max(len(s) for s in seqs) - 2  # tokens sampled after BOS KEY
    assert len(model.step_calls) == longest - 1
    assert model.step_calls[0] == 12  # all rows advance together
    assert sorted(model.step_calls, reverse=True) == model.step_calls  # finished rows leave the batch


def test_batches_beyond_batch_size_and_cpu_settings_restored():
    tok = TOKENIZERS["event"]
    threads = torch.get_num_threads()
    seqs = sample(tiny_lm(tok), tok, keys=[Key(i % 12) for i in range(5)], length=4, batch_size=2, seed=0)
    assert len(seqs) == 5 and all(len(tok.decode(s)) == 4 for s in seqs)
    assert torch.get_num_threads() == threads and torch.backends.mkldnn.enabled


def test_long_generation_streams():
    """2,000 notes through a real LSTM in one call: the state streams, one step per token."""
    tok = TOKENIZERS["melody"]
    model = RecurrentLM(vocab_size=len(tok), cell="lstm", hidden=8, layers=1).eval()
    (ids,) = sample(model, tok, keys=[Key(2)], length=2000, exact=True, seed=0)
    assert len(tok.decode(ids)) == 2000 and tok.grammar().is_valid(ids) and grammar_for(tok).is_valid(ids)


@pytest.mark.slow
def test_ten_thousand_notes():
    tok = TOKENIZERS["event"]
    model = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=32, layers=2).eval()
    seqs = sample(model, tok, keys=[Key(2), Key(9, "minor")], length=10_000, exact=True, seed=0)
    assert [len(tok.decode(s)) for s in seqs] == [10_000, 10_000]


def test_draws_follow_the_softmax_and_never_pick_a_forbidden_token():
    from musicgate.generation.sample import _draw

    logits = torch.tensor([0.0, -math.inf, 2.0, -30.0, -math.inf, 1.0, -math.inf])
    rows = 200_000
    gen = torch.Generator().manual_seed(0)
    counts = torch.bincount(_draw(logits.repeat(rows, 1), gen), minlength=len(logits)).numpy()
    assert counts[np.isinf(logits.numpy())].sum() == 0
    expected = torch.softmax(logits, 0).numpy() * rows
    live = expected > 100
    assert np.all(np.abs(counts[live] - expected[live]) < 5 * np.sqrt(expected[live]))  # within 5 sd
    # a row whose one allowed token is last, and one whose only allowed token is first
    one = torch.full((2, 7), -math.inf)
    one[0, 6], one[1, 0] = 0.0, 5.0
    assert _draw(one, gen).tolist() == [6, 0]


class _Looper(torch.nn.Module):
    """A model that plays the two-bar passage D-E | F#-G (a bar of two half notes each, 4/4) forever."""

    def __init__(self, tok) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.tok = tok
        self.pattern = [tok.ids[f"PITCH_{p}"] for p in (62, 64, 66, 67)]
        self.is_pitch = torch.as_tensor(tok.pitch_of >= 0)

    def _logits(self, notes: torch.Tensor) -> torch.Tensor:
        tok = self.tok
        x = torch.full((len(notes), len(tok)), -5.0)
        x[:, tok.meter_id((4, 4))] = 50.0
        x[:, tok.ids["DUR_24"]] = x[:, tok.bar_id] = 20.0
        want = torch.as_tensor(self.pattern)[notes.long() % 4]
        x[torch.arange(len(notes)), want] = 30.0
        x[:, tok.ids["PITCH_69"]] = 10.0   # the model's second choice
        return x

    def forward(self, ids, state=None):
        notes = self.is_pitch[ids].sum(1).float()
        return self._logits(notes)[:, None].expand(-1, ids.shape[1], -1), notes.reshape(1, -1, 1)

    def step(self, token, state):
        notes = state + self.is_pitch[token].reshape(1, -1, 1).float()
        return self._logits(notes[0, :, 0]), notes


def _most_in_a_row(tok, ids) -> int:
    """The most times a passage of 1-4 written bars (by pitches) comes in a row: an oracle apart from the sampler."""
    bars, cur = [], []
    for t in ids[3:]:
        if t in set(tok.barline_ids.tolist()):
            if cur:
                bars.append(tuple(cur))
            cur = []
        elif tok.pitch_of[t] >= 0:
            cur.append(int(t))
    best = 1
    for n in range(1, 5):
        for start in range(len(bars)):
            k = 1
            while bars[start + k * n:start + (k + 1) * n] == bars[start:start + n] and start + (k + 1) * n <= len(bars):
                k += 1
            best = max(best, k)
    return best


def test_max_loop_stops_a_passage_coming_again_and_again():
    tok = TOKENIZERS["melody"]
    free = sample(_Looper(tok), tok, keys=[Key(2)] * 2, length=40, exact=True, seed=0)
    assert all(_most_in_a_row(tok, ids) >= 8 for ids in free)   # the loop, left alone
    for limit in (2, 3, 4):
        capped = sample(_Looper(tok), tok, keys=[Key(2)] * 2, length=40, exact=True, seed=0, max_loop=limit)
        for ids in capped:
            assert _most_in_a_row(tok, ids) == limit   # it comes back, but never more than the limit
            assert int((tok.pitch_of[ids] >= 0).sum()) == 40
    with pytest.raises(ConfigError, match="max-loop must be a whole number of times >= 2"):
        sample(_Looper(tok), tok, keys=[Key(2)], length=8, max_loop=1)
