"""The meter-true melody grammar: bars filled exactly, pickups, endings at bar lines, no dead end,
no push toward any key, and the sampler and ``is_valid`` agree."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError
from musicgate.generation.sample import grammar_for, sample
from musicgate.music.keys import MAJOR_MINOR_KEYS, Key
from musicgate.music.notes import Notes
from musicgate.tokens.grammar import MelodyGrammar, bar_steps, barline_ids
from musicgate.tokens.tokenizer import METERS, make_tokenizer

FORM = ("REPEAT_START", "REPEAT_END", "ENDING_1", "ENDING_2", "PART_END")
TOKS = {"plain": make_tokenizer("melody", pitch_range=(21, 108), form=False),  # the shipped models' vocabulary
        "coarse": make_tokenizer("melody", grid=2, pitch_range=(48, 84), max_beats=1),
        "form": make_tokenizer("melody", pitch_range=(40, 90), max_beats=4)}


def words(tok, ids) -> list[str]:
    return [tok.vocab[i] for i in ids]


def header(tok, meter) -> list[int]:
    return [tok.bos_id, tok.key_id(Key(2)), tok.meter_id(meter)]


def walk(g: MelodyGrammar, ids, style: bool = True) -> object:
    state = g.start(1, np.asarray([ids]))
    return state, g.allowed(state, style)[0]


def bars_of(g: MelodyGrammar, ids) -> tuple[list[int], int | None, int]:
    """(grid steps between successive bar-line tokens, steps before the first, steps after the last)."""
    tok = g.tok
    ids = np.asarray(ids)
    lines = np.flatnonzero(g.is_bar[ids])
    steps = g.dur_steps[ids]
    if len(lines) == 0:
        return [], None, int(steps.sum())
    inner = [int(steps[a:b].sum()) for a, b in zip(lines[:-1], lines[1:]) if b > a + 1]
    return inner, int(steps[:lines[0]].sum()), int(steps[lines[-1]:].sum()) if ids[-1] == tok.eos_id else None


def paired_bars_full(g: MelodyGrammar, ids) -> bool:
    """Bars between bar lines (several line tokens at one place are one line) fill the meter's bar, or
    a short bar ends at a repeat/ending/part-end mark and the next bar completes it (the final one may
    end sooner)."""
    bar, t, lines = int(g.bar_of[ids[2]]), 0, {}
    for x in np.asarray(ids).tolist():
        t += int(g.dur_steps[x])
        if g.is_bar[x]:
            lines[t] = lines.get(t, False) or x != g.tok.bar_id  # True: a mark stands at this line
    pos = sorted(lines)
    segs = [b - a for a, b in zip(pos, pos[1:])] + [t - pos[-1]] if pos else []
    if segs and segs[-1] == 0:  # ended at a bar line: the bar before it is the final bar
        segs.pop()
    i = 0
    while i < len(segs) - 1:  # inner bars; the final one may complete a short bar
        n = segs[i]
        if n != bar:
            rest = segs[i + 1]  # the final bar may end short of completing it
            if not (n < bar and lines[pos[i + 1]] and (rest == bar - n or i + 1 == len(segs) - 1 and rest < bar - n)):
                return False
            i += 1
        i += 1
    return True


def check_meter_true(g: MelodyGrammar, ids) -> None:
    """Every bar between bar lines full; the pickup at most a bar; the last bar at most a bar.
    With form tokens: as the tokenizer's own ``bar_fill`` counts (a short bar before a repeat, ending
    or part-end mark and the next one make one bar)."""
    tok = g.tok
    if tok.form:
        assert paired_bars_full(g, ids)
        full, counted = tok.bar_fill(ids)  # the tokenizer's measure agrees, but for a short bar whose
        assert counted - full <= 1  # completing bar is the final one (bar_fill leaves that out)
        _, pickup, _ = bars_of(g, ids)
        assert pickup is None or pickup <= g.bar_of[ids[2]]
        return
    meter_tok = int(ids[2])
    bar = int(g.bar_of[meter_tok])
    inner, pickup, last = bars_of(g, ids)
    assert all(s == bar for s in inner), (inner, bar)
    if pickup is not None:
        assert pickup <= bar
        assert last is None or 0 <= last <= bar, (pickup, last, bar)
    else:  # no bar line at all: an empty tune or one full bar
        assert last in (0, bar)


# -- units -------------------------------------------------------------------------------------------
def test_bar_length_comes_from_the_meter_and_unknown_is_four_four():
    tok = TOKS["plain"]
    g = MelodyGrammar(tok, meter=True)
    assert g.bar_of[tok.meter_id((2, 4))] == 24 and g.bar_of[tok.meter_id((6, 8))] == 36
    assert g.bar_of[tok.meter_id((12, 8))] == 72 and g.bar_of[tok.meter_id(None)] == 48
    assert g.bar_of[tok.meter_id((11, 8))] == bar_steps(tok, (4, 4))  # METER_unknown


def test_no_duration_overruns_the_bar_and_a_full_bar_takes_only_a_bar_line_or_end():
    tok = TOKS["plain"]
    g = MelodyGrammar(tok, meter=True)
    ids = header(tok, (2, 4)) + [tok.bar_id, tok.ids["PITCH_62"], tok.ids["DUR_18"], tok.ids["PITCH_64"]]
    _, mask = walk(g, ids)
    assert words(tok, np.flatnonzero(mask)) == [f"DUR_{d}" for d in range(1, 7)]  # 6 steps left in 2/4
    _, mask = walk(g, ids + [tok.ids["DUR_6"]])
    assert words(tok, np.flatnonzero(mask)) == ["EOS", "BAR"]
    _, mask = walk(g, ids + [tok.ids["DUR_3"]])  # room left: no bar line; a short last bar may end here
    assert not mask[tok.bar_id] and mask[tok.eos_id] and mask[tok.rest_id] and mask[tok.ids["PITCH_70"]]
    _, mask = walk(g, ids + [tok.ids["DUR_3"], tok.ids["PITCH_62"]])  # never between a note and its DUR
    assert not mask[tok.eos_id]
    _, free = walk(tok.grammar(), ids)  # the structural grammar lets any DUR through
    assert free[tok.ids["DUR_96"]]


def test_pickup_then_bars_then_an_end_anywhere_in_the_last_bar():
    tok = TOKS["plain"]
    g = MelodyGrammar(tok, meter=True)
    p, d6, d12, d24 = tok.ids["PITCH_66"], tok.ids["DUR_6"], tok.ids["DUR_12"], tok.ids["DUR_24"]
    start = header(tok, (2, 4))
    _, mask = walk(g, start)
    assert mask[tok.bar_id] and mask[p] and mask[tok.rest_id]  # a bar line first, or a pickup
    _, mask = walk(g, start + [p, d6])
    assert mask[tok.bar_id] and mask[p] and not mask[tok.eos_id]  # the pickup may end here; no tune yet
    state, mask = walk(g, start + [p, d6, tok.bar_id, p, d24, tok.bar_id, p, d12])
    assert state.pickup[0] == 6 and state.pos[0] == 12
    assert mask[tok.eos_id] and not mask[tok.bar_id]  # a last bar of half a bar, as ABC writes one
    _, mask = walk(g, start + [p, d6, tok.bar_id, p, d24, tok.bar_id, p, d12, p, d6])
    assert mask[tok.eos_id] and mask[p] and not mask[tok.bar_id]  # 18 + the pickup's 6 make a bar
    _, mask = walk(g, start + [p, d6, tok.bar_id, tok.rest_id])
    assert not mask[tok.eos_id]  # a REST waits for its DUR
    _, mask = walk(g, start + [p, d24])  # a pickup of a whole bar is a first bar: only a bar line
    assert words(tok, np.flatnonzero(mask)) == ["EOS", "BAR"]


def test_a_tie_goes_on_with_a_note_across_the_bar_line():
    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    start = header(tok, (2, 4)) + [tok.bar_id]
    _, mask = walk(g, start + [tok.ids["PITCH_62"], tok.ids["DUR_24"], tok.bar_id])
    assert mask[tok.tie_id]
    _, mask = walk(g, start + [tok.rest_id, tok.ids["DUR_24"], tok.bar_id])
    assert not mask[tok.tie_id]  # nothing sounds to tie
    _, mask = walk(tok.grammar(), start + [tok.rest_id, tok.ids["DUR_24"], tok.bar_id])
    assert not mask[tok.tie_id]
    ids = start + [tok.ids["PITCH_62"], tok.ids["DUR_12"], tok.tie_id, tok.ids["DUR_12"], tok.bar_id, tok.eos_id]
    assert g.is_valid(ids) and tok.decode(ids).duration.tolist() == [2.0]


def test_a_part_may_end_on_a_short_bar_that_the_next_completes():
    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    p, d6, d18 = tok.ids["PITCH_66"], tok.ids["DUR_6"], tok.ids["DUR_18"]
    ids = header(tok, (2, 4)) + [tok.bar_id, p, tok.ids["DUR_24"], tok.bar_id, p, d6, p, d18, tok.bar_id, p, d18]
    _, mask = walk(g, ids)
    assert mask[tok.ids["PART_END"]] and mask[tok.ids["REPEAT_END"]] and not mask[tok.bar_id]
    state, mask = walk(g, ids + [tok.ids["PART_END"], p])
    assert state.limit[0] == 6 and mask[d6] and not mask[tok.ids["DUR_7"]]  # the next part's pickup
    _, mask = walk(g, ids + [tok.ids["PART_END"], p, d6])
    assert mask[tok.bar_id] and mask[tok.ids["REPEAT_START"]] and not mask[p]
    state, _ = walk(g, ids + [tok.ids["PART_END"], p, d6, tok.bar_id])
    assert state.limit[0] == 24
    _, mask = walk(g, ids + [tok.ids["PART_END"], p, tok.ids["DUR_3"]])
    assert not mask[np.asarray(tok.barline_ids)].any()  # the completing bar is not cut short again
    full = ids + [tok.ids["PART_END"], p, d6, tok.bar_id, p, tok.ids["DUR_24"], tok.bar_id, tok.eos_id]
    assert g.is_valid(full) and tok.bar_fill(full) == (3, 3)  # the final bar is not counted


def test_real_folk_tunes_read_as_the_grammars_say():
    """Every encoded tune is valid under the structural grammar (TIE and form tokens included); under the
    meter-true one exactly when... nearly always when its bars are filled (irregular written bars are not)."""
    from musicgate.data.corpora import _music21_corpus_dir, abc_tunes
    from musicgate.music.abc import read_abc

    tok = make_tokenizer("melody", pitch_range=(21, 108))
    free, strict = tok.grammar(), MelodyGrammar(tok, meter=True)
    tunes = abc_tunes(_music21_corpus_dir() / "oneills1850" / "0001-0050.abc", "folk")[:30]
    agree = filled = 0
    for t in tunes:
        ids = tok.encode(read_abc(t.text).notes)
        assert free.is_valid(ids), t.text[:60]
        full, counted = tok.bar_fill(ids)
        filled += full == counted
        agree += strict.is_valid(ids) == (full == counted)
        if strict.is_valid(ids):
            assert full == counted
    assert filled >= 20 and agree >= len(tunes) - 2


def test_form_tokens_stand_where_bar_lines_stand():
    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    assert set(barline_ids(tok)) == set(tok.barline_ids) and not g.dur_steps[tok.barline_ids].any()
    rs, re, e2, p, d = (tok.ids[t] for t in ("REPEAT_START", "REPEAT_END", "ENDING_2", "PITCH_62", "DUR_12"))
    ids = header(tok, (3, 4)) + [rs, p, d, p, d]
    _, mask = walk(g, ids, False)   # (repeats of one bar: the structure allows them, the rules of style not)
    assert not mask[tok.bar_id] and mask[re]  # mid-bar: only a mark may close a (short) bar
    _, mask = walk(g, ids + [p, d], False)
    assert mask[np.asarray(tok.barline_ids)].sum() == len(tok.barline_ids) - 1 and not mask[e2]  # |2: after |1 ... :|
    _, mask = walk(g, ids + [p, d, re], False)  # ":|:" is two tokens at one bar line
    assert not mask[e2] and mask[rs] and not mask[re] and not mask[tok.bar_id] and mask[tok.eos_id]
    e1 = tok.ids["ENDING_1"]
    _, mask = walk(g, ids + [p, d, e1, p, d, p, d, p, d, re], False)  # ":|2": the second ending, at once
    assert np.flatnonzero(mask).tolist() == [e2]
    assert g.is_valid(ids + [p, d, e1, p, d, p, d, p, d, re, e2, p, d, p, d, p, d, tok.ids["PART_END"], tok.eos_id])
    _, mask = walk(g, ids + [p, d, tok.bar_id], False)
    assert not mask[tok.bar_id] and mask[re]  # no empty bar; a mark may follow a plain bar line


def test_no_pitch_is_favoured():
    """Whatever the state, every PITCH token is allowed exactly when REST is: no push toward a key."""
    tok = TOKS["plain"]
    g = MelodyGrammar(tok, meter=True)
    rng = np.random.default_rng(0)
    state = g.start(64, np.array([header(tok, tuple(map(int, METERS[i % len(METERS)].split("/"))))
                                  for i in range(64)]))
    pitches = np.flatnonzero(tok.pitch_of >= 0)
    for _ in range(300):
        mask = g.allowed(state)
        assert (mask[:, pitches] == mask[:, [tok.rest_id]]).all()
        x = np.where(mask, rng.random(mask.shape), -1)
        x[:, tok.eos_id] = -1
        g.advance(state, x.argmax(axis=1))


def test_encoded_tunes_with_full_bars_are_meter_valid_and_crossing_notes_are_not():
    tok = TOKS["plain"]
    g = MelodyGrammar(tok, meter=True)
    tune = Notes.from_arrays([62, 66, 69, 74, 73, 71, 69], [0, 1, 2, 3, 4.5, 5, 6], [1, 1, 1, 1.5, 0.5, 1, 3],
                             key="D major", meter=(3, 4))
    assert g.is_valid(tok.encode(tune)) and tok.grammar().is_valid(tok.encode(tune))
    crossing = Notes.from_arrays([62, 66], [0, 2], [1, 2], key="D major", meter=(3, 4))  # 66 crosses the line
    assert tok.grammar().is_valid(tok.encode(crossing)) and not g.is_valid(tok.encode(crossing))


def test_a_primer_that_crosses_bar_lines_is_followed_in_step():
    """The structural grammar accepts the primer; the meter state then carries the overrun."""
    tok = TOKS["plain"]
    g = MelodyGrammar(tok, meter=True)
    crossing = Notes.from_arrays([62, 66], [0, 2], [1, 2], key="D major", meter=(3, 4))
    ids = tok.encode(crossing)[:-1]  # ... REST 12 PITCH_66 DUR_24: ends 12 steps into bar 2
    state, mask = walk(g, ids)
    assert state.pos[0] == 48 and words(tok, np.flatnonzero(mask)) == ["EOS", "BAR"]
    state, mask = walk(g, list(ids) + [tok.bar_id])
    assert state.pos[0] == 12 and mask[tok.rest_id]
    assert not mask[tok.bar_id] and mask[tok.ids["PITCH_60"]]


# -- properties ------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TOKS)), seed=st.integers(0, 2**32 - 1), end_bias=st.floats(-6, 3),
       bar_bias=st.floats(-3, 3), steps=st.integers(1, 250))
def test_random_walks_never_dead_end_and_stay_meter_true(name, seed, end_bias, bar_bias, steps):
    tok = TOKS[name]
    g = MelodyGrammar(tok, meter=True)
    rng = np.random.default_rng(seed)
    batch = 8
    meters = [tok.meter_base + int(m) for m in rng.integers(0, len(METERS) + 1, batch)]
    prefix = np.array([[tok.bos_id, tok.key_id(Key(int(rng.integers(12)))), m] for m in meters])
    state = g.start(batch, prefix)
    seqs = [list(r) for r in prefix]
    lines = barline_ids(tok)
    for _ in range(steps):
        mask = g.allowed(state)
        assert mask.any(axis=1).all()
        x = rng.normal(size=mask.shape)
        x[:, tok.eos_id] += end_bias
        x[:, lines] += bar_bias
        choice = np.where(mask, x, -np.inf).argmax(axis=1)
        g.advance(state, choice)
        for s, c in zip(seqs, choice):
            s.append(int(c))
    for s in seqs:
        if tok.eos_id in s:
            s = s[:s.index(tok.eos_id) + 1]
            assert g.is_valid(s)
            check_meter_true(g, s)
            assert not tok.form or not _open_at_end(tok, s)
            assert not tok.form or not style_flaws(tok, s)
            assert all(len(p) <= 2 or p[-1] == "ENDING_2" and len(p) == 3 for p in places_of(tok, s))
            if tok.form:   # every |1 closed by :| and followed by |2 at once; |2 nowhere else
                words_ = [tok.vocab[t] for t in s]
                for i, w in enumerate(words_):
                    if w == "ENDING_2":
                        assert words_[i - 1] == "REPEAT_END" and "ENDING_1" in words_[:i]
                assert words_.count("ENDING_1") == words_.count("ENDING_2")
        else:
            assert g.is_valid(s)
            inner, pickup, _ = bars_of(g, s)
            assert pickup is None or pickup <= g.bar_of[s[2]]
            if tok.form:  # a short bar before a mark may still wait for the bar that completes it
                full, counted = tok.bar_fill(s)
                assert counted - full <= 1
            else:
                assert all(x == g.bar_of[s[2]] for x in inner)


class RandomLogits(torch.nn.Module):
    def __init__(self, vocab: int, seed: int, favour: dict | None = None) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.vocab, self.favour = vocab, favour or {}
        self.rng = np.random.default_rng(seed)

    def _logits(self, n: int) -> torch.Tensor:
        x = self.rng.normal(0.0, 3.0, (n, self.vocab))
        for i, v in self.favour.items():
            x[:, i] += v
        return torch.tensor(x, dtype=torch.float32)

    def forward(self, ids, state=None):
        b, t = ids.shape
        return self._logits(b * t).reshape(b, t, -1), torch.zeros(1, b, 1)

    def step(self, token, state):
        return self._logits(token.shape[0]), state


def decoded_bars_full(tok, g, ids) -> bool:
    """The decoded notes, on the bar grid that starts at the first bar line: inner bars are filled
    exactly (notes and the rests between them) and no note crosses a bar line."""
    notes = tok.decode(ids)
    ids = np.asarray(ids)
    lines = np.flatnonzero(g.is_bar[ids])
    if len(notes) == 0 or len(lines) == 0:
        return True
    bar = int(g.bar_of[ids[2]])
    first_pitch = int(np.flatnonzero(tok.pitch_of[ids] >= 0)[0])
    offset = int(round(notes.onset[0] * tok.grid)) - int(g.dur_steps[ids[:first_pitch]].sum())
    line0 = offset + int(g.dur_steps[ids[:lines[0]]].sum())  # where the decoder put the first bar line
    on = np.rint(notes.onset * tok.grid).astype(int) - line0
    end = on + np.rint(notes.duration * tok.grid).astype(int)
    inside = on >= 0
    return bool(np.all((on[inside] // bar) == ((end[inside] - 1) // bar)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), length=st.integers(1, 60), min_length=st.integers(1, 60),
       eos=st.floats(-2, 8), batch=st.integers(1, 4), top_k=st.none() | st.integers(1, 40),
       name=st.sampled_from(["plain", "form"]))
def test_sampled_tunes_fill_their_bars_and_end_between_min_and_max(seed, length, min_length, eos, batch, top_k,
                                                                   name):
    tok = TOKS[name]
    min_length = min(min_length, length)
    model = RandomLogits(len(tok), seed, favour={tok.eos_id: eos, tok.bar_id: 2.0})
    keys = [MAJOR_MINOR_KEYS[(seed + i) % 24] for i in range(batch)]
    g = grammar_for(tok)
    assert g.meter  # on by default for melody models
    for ids in sample(model, tok, keys=keys, length=length, min_length=min_length, top_k=top_k, seed=seed):
        n = int((tok.pitch_of[ids] >= 0).sum())
        # a tune cut at the maximum may break the rules of style (it ends as soon as it decodes)
        assert ids[-1] == tok.eos_id and g.is_valid(ids, style=n < length) and tok.grammar().is_valid(ids)
        check_meter_true(g, ids)
        assert min_length <= n <= length
        if tok.form and n < length:
            assert not style_flaws(tok, ids)
        if tok.form:  # TIEs join notes across bar lines; the decoder places the pickup before the first
            notes = tok.decode(ids)
            assert len(notes) == int((tok.pitch_of[ids] >= 0).sum())
            assert not notes.bars or notes.bars[0][0] <= g.bar_of[ids[2]] / tok.grid
        else:
            assert decoded_bars_full(tok, g, ids)


def test_a_model_that_never_ends_is_cut_at_the_maximum_right_after_its_last_note():
    tok = TOKS["plain"]
    model = RandomLogits(len(tok), 1, favour={tok.eos_id: -1e4})
    g = grammar_for(tok)
    for ids in sample(model, tok, keys=[Key(i) for i in range(6)], length=37, seed=4):
        assert int((tok.pitch_of[ids] >= 0).sum()) == 37
        check_meter_true(g, ids)
        last_note = int(np.flatnonzero(tok.pitch_of[ids] >= 0)[-1])
        # past the first bar line, the end follows the 37th note's DUR (or a bar line there)
        assert ids[last_note + 1] in g.dur_cols and len(ids) - last_note <= 4


def test_a_model_eager_to_end_ends_at_the_minimum_bar_line():
    tok = TOKS["plain"]
    model = RandomLogits(len(tok), 2, favour={tok.eos_id: 1e4})
    g = grammar_for(tok)
    for ids in sample(model, tok, keys=[Key(i) for i in range(6)], length=200, min_length=10, seed=1):
        n = int((tok.pitch_of[ids] >= 0).sum())
        assert n == 10 or (n < 30 and not g.is_bar[ids].any())  # it ends at the first place it may
        check_meter_true(g, ids)


def test_free_meter_and_exact_lengths():
    tok = TOKS["plain"]
    model = RandomLogits(len(tok), 3, favour={tok.eos_id: 5.0})
    seqs = sample(model, tok, keys=[Key(0)] * 4, length=25, exact=True, meter=False, seed=0)
    assert [int((tok.pitch_of[s] >= 0).sum()) for s in seqs] == [25] * 4
    meter_true = grammar_for(tok, True)
    free = sample(RandomLogits(len(tok), 3), tok, keys=[Key(0)] * 8, length=40, meter=False, seed=0)
    assert not all(meter_true.is_valid(s) for s in free)  # free sampling puts bar lines anywhere


def test_the_meter_grammar_needs_a_melody_model():
    with pytest.raises(ConfigError, match="needs a melody-vocabulary model"):
        grammar_for(make_tokenizer("event"), True)
    assert not hasattr(grammar_for(make_tokenizer("event")), "meter")


def places_of(tok, ids) -> list[list[str]]:
    """The bar-line tokens standing at each bar line, in order."""
    out, run = [], []
    for t in list(ids) + [-1]:
        if t >= 0 and t in set(barline_ids(tok).tolist()):
            run.append(tok.vocab[t])
        elif run:
            out.append(run)
            run = []
    return out


def test_two_bar_line_tokens_at_one_bar_line_and_music_in_a_first_ending():
    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    p, d24 = tok.ids["PITCH_62"], tok.ids["DUR_24"]
    e1, e2, rs, re, pe = (tok.ids[t] for t in ("ENDING_1", "ENDING_2", "REPEAT_START", "REPEAT_END", "PART_END"))
    start = header(tok, (2, 4)) + [tok.bar_id, p, d24, tok.bar_id, p, d24, tok.bar_id, p, d24]
    _, mask = walk(g, start + [re])
    assert mask[rs] and mask[pe]                                   # :| |: and :| || may stand
    _, mask = walk(g, start + [re, rs])
    assert not mask[np.asarray(tok.barline_ids)].any() and mask[p]  # a third may not: music comes
    _, mask = walk(g, start + [e1])
    assert not mask[re] and mask[p]                                 # |1 :| would be an empty first ending
    _, mask = walk(g, start + [tok.bar_id, e1, p, d24, re])
    assert np.flatnonzero(mask).tolist() == [e2]                    # | |1 ... :| then |2, a second at its bar line
    _, mask = walk(g, start + [e1, p, d24, tok.bar_id, re])
    assert np.flatnonzero(mask).tolist() == [e2]                    # BAR :| |2: the third, as the :| asks


def style_flaws(tok, ids) -> list[str]:
    """The rules of style a finished tune breaks, read from its tokens as written (an oracle apart from
    the grammar): parts end at a bar line holding ``:|`` or ``||`` unless a ``|2`` stands there too; a
    part's bars are its bar lines after its first note, plus one for its last bar; a ``||`` may not stand
    while a ``|:`` with notes after it waits for its ``:|``."""
    w = [tok.vocab[t] for t in ids]
    lines = [i for i, x in enumerate(w) if int(ids[i]) in set(barline_ids(tok).tolist())]
    places = []   # (first index, last index) of each run of bar-line tokens
    for i in lines:
        if places and places[-1][1] == i - 1:
            places[-1][1] = i
        else:
            places.append([i, i])
    flaws, parts, bars, notes, start = [], [], 0, False, 0
    if any(x == "PART_END" and _open_at_end(tok, ids[:j]) for j, x in enumerate(w)):
        flaws.append("a || while a repeat is open")
    for a, b in places:
        notes = notes or any(x.startswith("PITCH") for x in w[start:a])
        here = set(w[a:b + 1])
        if notes:
            bars += 1
        ends = bool(here & {"REPEAT_END", "PART_END"}) and "ENDING_2" not in here
        closing = next((x for x in w[a:b + 1] if x in ("REPEAT_END", "PART_END")), None)   # the first closes
        if ends and closing == "REPEAT_END" and notes and bars <= 2:
            flaws.append("a repeat of two bars or fewer")
        if ends and notes:
            parts.append(bars)
            bars, notes = 0, False
        start = b + 1
    if any(x.startswith("PITCH") for x in w[start:]) or notes:
        parts.append(bars + 1)
    if any(p < 0.6 * parts[0] for p in parts[1:]):
        flaws.append("a part after the first shorter than 0.6 of it")
    inside = None   # bar lines (places) inside the current first ending
    for a, b in places:
        here = w[a:b + 1]
        if inside is not None and "REPEAT_END" in here:
            inside = None if inside < 4 else flaws.append("a first ending of more than 4 bars")
        elif inside is not None:
            inside += 1
        if "ENDING_1" in here:
            inside = 0
    return flaws


def _open_at_end(tok, ids) -> bool:
    """A |: with a note after it and no :| after that."""
    state = 0
    for t in ids:
        state = 1 if t == tok.ids["REPEAT_START"] else 0 if t == tok.ids["REPEAT_END"] else \
            2 if state == 1 and tok.pitch_of[t] >= 0 else state
    return state == 2


def test_first_and_second_endings_as_abc_writes_them():
    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    p, d24 = tok.ids["PITCH_62"], tok.ids["DUR_24"]
    e1, e2, rs, re, pe = (tok.ids[t] for t in ("ENDING_1", "ENDING_2", "REPEAT_START", "REPEAT_END", "PART_END"))
    start = header(tok, (2, 4)) + [tok.bar_id, p, d24, rs, p, d24, e1, p, d24]
    _, mask = walk(g, start)        # inside the first ending: a bar line or its :|, no end, no ||, no |:, no |1
    assert mask[tok.bar_id] and mask[re] and not (mask[tok.eos_id] or mask[pe] or mask[rs] or mask[e1] or mask[e2])
    _, mask = walk(g, start + [re])
    assert np.flatnonzero(mask).tolist() == [e2]
    _, mask = walk(g, start + [re, e2, p, d24])
    assert mask[tok.eos_id] and mask[e1] and not mask[e2]   # the endings are done
    _, mask = walk(g, header(tok, (2, 4)) + [tok.bar_id, p, d24, pe])
    assert mask[rs] and not mask[re]                       # "|| |:" yes, "|| :|" no
    _, free = walk(tok.grammar(), start)                    # the structural grammar reads any tune
    assert free[tok.eos_id] and free[e2]


def test_a_first_ending_closes_by_its_fourth_bar():
    from musicgate.tokens.grammar import FIRST_ENDING_BARS

    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    p, d24 = tok.ids["PITCH_62"], tok.ids["DUR_24"]
    e1, re = tok.ids["ENDING_1"], tok.ids["REPEAT_END"]
    lines = np.asarray(tok.barline_ids)
    start = header(tok, (2, 4)) + [tok.bar_id, p, d24, tok.ids["REPEAT_START"]] + [p, d24, tok.bar_id] * 3 + [e1]
    for bars in range(1, FIRST_ENDING_BARS + 1):
        ids = start + [p, d24, tok.bar_id] * (bars - 1) + [p, d24]   # the ending's bar number `bars`, full
        _, mask = walk(g, ids)
        if bars >= FIRST_ENDING_BARS:
            assert lines[mask[lines]].tolist() == [re]   # its last bar: only the :| closes it
        else:
            assert mask[tok.bar_id] and mask[re]
        _, free = walk(g, ids, False)                   # without the rules of style: any bar line
        assert free[tok.bar_id] and free[re]
    ids = start + [p, d24, tok.bar_id] * 3 + [p, d24]
    assert style_flaws(tok, ids + [re, tok.ids["ENDING_2"], p, d24, tok.eos_id]) == []
    assert style_flaws(tok, ids + [tok.bar_id, p, d24, re, tok.ids["ENDING_2"], p, d24, tok.eos_id]) == \
        ["a first ending of more than 4 bars"]


def test_no_end_while_a_repeat_is_open():
    tok = TOKS["form"]
    g = MelodyGrammar(tok, meter=True)
    p, d12, d24 = tok.ids["PITCH_62"], tok.ids["DUR_12"], tok.ids["DUR_24"]
    start = header(tok, (2, 4)) + [tok.bar_id, p, d24, tok.ids["REPEAT_START"]]
    _, mask = walk(g, start)
    assert mask[tok.eos_id]                                    # |: and nothing after it yet: it opens nothing
    start += [p, d24, tok.bar_id, p, d24, tok.bar_id]   # a repeat of three bars may close (style)
    _, mask = walk(g, start + [p, d12])
    assert not mask[tok.eos_id] and mask[tok.ids["REPEAT_END"]]   # open: the :| may close the bar early
    _, mask = walk(g, start + [p, d24])
    assert not mask[tok.eos_id] and mask[tok.ids["REPEAT_END"]]
    _, mask = walk(g, start + [p, d24, tok.ids["REPEAT_END"]])
    assert mask[tok.eos_id]
    _, free = walk(tok.grammar(), start + [p, d24])           # the structural grammar reads any tune
    assert free[tok.eos_id]


def test_a_tune_cut_at_the_maximum_closes_its_open_repeat():
    tok = TOKS["form"]
    model = RandomLogits(len(tok), 5, favour={tok.eos_id: -1e4, tok.ids["REPEAT_START"]: 6.0,
                                              tok.ids["REPEAT_END"]: -4.0, tok.rest_id: 4.0})
    seqs = sample(model, tok, keys=[Key(i) for i in range(8)], length=30, seed=3)
    opened = 0
    for ids in seqs:
        assert ids[-1] == tok.eos_id and int((tok.pitch_of[ids] >= 0).sum()) == 30
        assert not _open_at_end(tok, ids)
        last_note = int(np.flatnonzero(tok.pitch_of[ids] >= 0)[-1])
        tail = ids[last_note + 1:]   # rests fill the bar only where a :| may not yet close it; then :| and the end
        lines = np.flatnonzero(np.isin(tail, barline_ids(tok)))
        marks = [tok.vocab[t] for t in tail[lines]]   # :| (and the second ending, after a first), then the end
        assert marks in ([], ["REPEAT_END"], ["REPEAT_END", "ENDING_2"]) and (not marks or lines[-1] == len(tail) - 2)
        opened += _open_at_end(tok, ids[:last_note + 1])
    assert opened >= 4   # the rule had repeats to close
