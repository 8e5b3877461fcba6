"""The live page's ABC notation (``live/abc.js``), in a real browser: the text Python's ``to_abc`` writes.

Tunes sampled on the page (tiny models of each cell, one with form inputs, and the shipped folk-gru, whose
tunes the page moves by octaves) are written by ``MusicgateLive.toAbc`` and compared, character for
character, with :func:`musicgate.music.abcwrite.to_abc` of the Python tokenizer's decode of the same token
ids, prepared as ``musicgate generate`` prepares them (4/4 for an unknown meter, the octave shift). Hand-made
tunes and the written tunes of ``tests/test_abcwrite.py`` (every bar-line kind, pickups, triplets, ties,
rests, chords, every key and mode) go through both writers too, and the panel shows the drawn tune's ABC.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_abcwrite import melody, written_tunes
from test_live_page import BUCKETS, _need_browser, browser, page, tiny_model  # noqa: F401 (fixtures: with this site)

from musicgate.music.abcwrite import to_abc
from musicgate.music.keys import MODES, Key, parse_key
from musicgate.music.notes import Notes
from musicgate.teach import live
from musicgate.tokens.tokenizer import make_tokenizer

FORM = "tiny-form"
REAL = "folk-gru"  # ships in the package; its file has the training tunes' register, so tunes move by octaves


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A page folder as the gallery writes it: tiny rnn, lstm and gru models, one with form inputs (a bar
    plan), and the shipped folk-gru."""
    from musicgate.nn.hub import load_model

    _need_browser()
    folder = tmp_path_factory.mktemp("live-abc")
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    loaded = [(tiny_model(cell, tok, i), tok, {"name": f"tiny-{cell}"}) for i, cell in enumerate(("rnn", "lstm", "gru"))]
    loaded.append((tiny_model("lstm", tok, 11, form_inputs=BUCKETS), tok, {"name": FORM}))
    model, stok, meta = load_model(REAL)
    loaded.append((model, stok, {"name": REAL, "dataset": meta.get("dataset")}))
    page = live.standalone_page(folder, live.write_live(folder, loaded))
    return {"page": page, "models": {m[2]["name"]: (m[0], m[1], m[2]) for m in loaded}}


def as_generate_writes(tok, ids, octave_shift: int, meta: dict) -> Notes:
    """The Notes ``musicgate generate`` writes for token ids: decoded, 4/4 for an unknown meter, moved by
    octaves toward the training tunes' register (the shift checked against Python's)."""
    from musicgate.generation.api import octave_shift as shift_of

    notes = tok.decode(np.asarray(ids))
    if not notes.meters:
        notes = replace(notes, meters=((0.0, 4, 4),))
    register = (meta.get("dataset") or {}).get("register")
    assert octave_shift == (shift_of(notes, float(register["median"]), tok.pitch_range) if register else 0)
    return notes.transpose(octave_shift) if octave_shift else notes


def as_page_tune(notes: Notes) -> dict:
    """A Notes as the page's tune object: notes, bars, key name and meter."""
    return {"notes": [{"pitch": int(p), "onset": float(o), "duration": float(d)}
                      for p, o, d in zip(notes.pitch, notes.onset, notes.duration)],
            "bars": [{"beat": float(b), "kind": k} for b, k in notes.bars],
            "key": notes.key.name if notes.key else None,
            "meter": f"{notes.meter[0]}/{notes.meter[1]}" if notes.meters else None}


def page_abc(page, tunes: list[dict], opts: list[dict] | None = None) -> list[str]:
    return page.evaluate("([tunes, opts]) => tunes.map((t, i) => MusicgateLive.toAbc(t, opts[i]))",
                         [tunes, opts or [{}] * len(tunes)])


# -- tunes sampled on the page ------------------------------------------------------------------------
SAMPLED = [  # model, key (a mode, flat keys, F# major's key written as Gb), meter (None: the model draws one), bars
    ("tiny-rnn", "D major", None, None), ("tiny-lstm", "A dorian", "6/8", None), ("tiny-gru", "Bb major", "2/2", None),
    (FORM, "Eb minor", "9/8", 12), (FORM, "Gb major", "2/4", None), (FORM, "E mixolydian", "3/4", 8),
    (REAL, "G major", "6/8", None), (REAL, "A dorian", None, None), (REAL, "D major", "2/2", None),
    (REAL, "F major", "4/4", None), (REAL, "E minor", "12/8", None),
]
SEEDS = (0, 1, 2)


def test_the_page_writes_its_sampled_tunes_as_python_writes_them(page, site):
    asks = [{"model": m, "key": k, "meter": meter, "bars": bars, "seed": s, "temperature": 1, "maxNotes": 48}
            for m, k, meter, bars in SAMPLED for s in SEEDS]
    got = page.evaluate("""(asks) => asks.map(o => {
        const t = MusicgateLive.generate(Object.assign({}, o, {meter: o.meter || undefined, bars: o.bars || undefined}));
        const title = `${t.model} in ${t.key}, seed ${t.seed}`;
        return {ids: t.ids, key: t.key, meter: t.meter, octaveShift: t.octaveShift, model: t.model, title,
                abc: MusicgateLive.toAbc(t),
                titled: MusicgateLive.toAbc(t, {title, comment: 'made on the page', rhythm: 'slip jig'})}; })""",
                        asks)
    texts = []
    for ask, tune in zip(asks, got):
        _, tok, meta = site["models"][ask["model"]]
        notes = as_generate_writes(tok, tune["ids"], tune["octaveShift"], meta)
        # the page's key and meter are the ones Python's decode sets on the Notes
        assert notes.key == parse_key(ask["key"]) and notes.key.name == tune["key"] == ask["key"]
        assert f"{notes.meter[0]}/{notes.meter[1]}" == tune["meter"] and (ask["meter"] is None or tune["meter"] == ask["meter"])
        assert tune["abc"] == to_abc(notes), (ask, tune["abc"], to_abc(notes))
        assert tune["titled"] == to_abc(notes, title=tune["title"], comment="made on the page", rhythm="slip jig")
        assert "\nR:slip jig\nN:made on the page\n" in tune["titled"]
        texts.append(tune["abc"])
    assert any(t["octaveShift"] for t in got)  # some tunes were moved by octaves, as generate moves them
    headers = {line for t in texts for line in t.splitlines() if line[:2] in ("K:", "M:", "L:")}
    assert {"K:Ador", "K:Bb", "K:Ebm", "K:Gb", "K:Emix", "M:6/8", "M:2/2", "M:9/8", "L:1/16", "L:1/8"} <= headers
    body = "\n".join(line for t in texts for line in t.splitlines()[5:])  # after X: M: L: Q: K:
    for mark in ("|:", ":|", "|]", "-|", "(3", "_", "=", "^"):  # repeats, ties over bar lines, triplets, accidentals
        assert mark in body, mark


# -- hand-made tunes: every branch of to_abc ----------------------------------------------------------
JIG_BARS = [(2.5, "|:"), (3.0, "|"), (6.0, "|1"), (9.0, ":|"), (9.0, "|2"), (11.5, "||")]
HAND = [
    # a jig with a pickup, a repeat and first and second endings
    melody([(69, 2.5, 0.5), (74, 3.0, 1.0), (78, 4.0, 0.5), (81, 4.5, 1.0), (78, 5.5, 0.5), (76, 6.0, 1.5),
            (76, 7.5, 1.0), (69, 8.5, 0.5), (76, 9.0, 1.5), (74, 10.5, 1.0)], bars=JIG_BARS),
    # a triplet, a note tied across a bar line, a chord and a rest (3/4)
    melody([(72, 0.0, 1 / 3), (74, 1 / 3, 1 / 3), (76, 2 / 3, 1 / 3), (79, 1.0, 3.0), (67, 4.0, 1.0), (71, 4.0, 1.0),
            (74, 4.0, 1.0)], meter=(3, 4), key=Key(0, "major")),
    # signs held to the bar line, per octave and per letter (2/2, D major)
    melody([(72, 0.0, 0.5), (72, 0.5, 0.5), (60, 1.0, 0.5), (73, 1.5, 0.5), (74, 2.0, 2.0), (73, 4.0, 4.0)], meter=(2, 2)),
    # no bar lines written: the meter's, and a last bar filled with rests
    melody([(62, 0.0, 1.0), (64, 1.0, 1.0), (66, 2.0, 2.0), (67, 4.0, 1.0)], meter=(4, 4)),
    # a pickup without written bar lines, lengths of 3/2, / and 2/3 unit notes, a triplet of /4 (6/8)
    melody([(62, 2.5, 0.5), (64, 3.0, 0.75), (66, 3.75, 0.25), (67, 4.0, 1 / 12), (69, 4 + 1 / 12, 1 / 12),
            (71, 4 + 2 / 12, 1 / 12), (72, 4.25, 1 / 3), (74, 4 + 7 / 12, 5 / 12)], bars=()),
    # L:1/16 (2/4): lengths of /3, 2/3, 4/3 and 3; a ':| |:' and a '|| |:' that breaks the line before '|:'
    melody([(62, 0.0, 1 / 12), (64, 1 / 12, 2 / 12), (66, 0.25, 0.75), (67, 1.0, 1 / 3), (69, 4 / 3, 2 / 3),
            (71, 2.0, 0.75), (72, 2.75, 1.25), (74, 4.0, 2.0), (76, 6.0, 2.0)], meter=(2, 4),
           bars=[(2.0, ":|"), (2.0, "|:"), (4.0, "||"), (4.0, "|:"), (6.0, ":|"), (8.0, "||")]),
    # five bars on a line break after the fourth; the tune ends without a bar line; a mode (E dorian)
    melody([(64 + i % 5, float(i), 1.0) for i in range(20)] + [(76, 20.0, 0.5)], meter=(4, 4), key=Key(4, "dorian"),
           bars=[(float(b), "|") for b in range(4, 21, 4)]),
    # endings, then a part end and a repeat start at one bar line, in 9/8 (G major)
    melody([(67, 0.0, 4.5), (69, 4.5, 4.5), (71, 9.0, 4.5), (72, 13.5, 4.5)], meter=(9, 8), key=Key(7, "major"),
           bars=[(4.5, "|1"), (9.0, ":|"), (9.0, "|2"), (13.5, "||"), (13.5, "|:"), (18.0, ":|")]),
    # a triplet on the bar line after a short bar (counted from its bar line, not from beat 0)
    melody([(74, 0.0, 2.0), (76, 2.0, 1.5), (72, 3.5, 1 / 3), (74, 3.5 + 1 / 3, 1 / 3), (76, 3.5 + 2 / 3, 1 / 3),
            (78, 4.5, 1.0)], meter=(2, 4), bars=[(2.0, "|"), (3.5, "||"), (5.5, "||")]),
]
SPELLING = [(Key(10, "major"), [70, 75, 66, 71]), (Key(9, "dorian"), [66, 67, 68, 65]), (Key(11, "major"), [75, 70, 76, 77]),
            (Key(6, "major"), [77, 70, 71, 72]), (Key(3, "minor"), [62, 71, 69, 68]), (Key(11, "locrian"), [60, 61, 72, 73]),
            (Key(1, "phrygian"), [61, 62, 63, 64]), (Key(5, "lydian"), [70, 71, 46, 47])]


def test_hand_made_tunes_are_written_as_python_writes_them(page):
    tunes = HAND + [melody([(p, 0.5 * i, 0.5) for i, p in enumerate(ps)], meter=(2, 4), key=k) for k, ps in SPELLING]
    got = page_abc(page, [as_page_tune(n) for n in tunes])
    for notes, text in zip(tunes, got):
        assert text == to_abc(notes), (text, to_abc(notes))
    bodies = [t.split("K:", 1)[1].split("\n", 1)[1] for t in got]
    assert bodies[0] == "|:A| d2f a2f|1 e3 e2A:|2 e3 d2|]\n" and bodies[1] == "(3cde g4-| g2 [GBd]2 z2|]\n"
    assert "\n|:" in bodies[5] and "(3" in bodies[4] and "3/2" in bodies[4] and "/4" in bodies[4]
    # the header's fields: a title and a note, the reference number; F# major is written as Gb major
    notes = tunes[0]
    opts = {"title": "Test Jig", "comment": "made by hand", "number": 3}
    assert page_abc(page, [as_page_tune(notes)], [opts])[0] == to_abc(notes, **opts)
    assert page_abc(page, [dict(as_page_tune(tunes[-5]), key="F# major")])[0] == to_abc(tunes[-5])
    assert "K:Gb\n" in to_abc(tunes[-5])


def test_overlapping_notes_are_refused_as_python_refuses_them(page):
    tune = as_page_tune(melody([(60, 0.0, 2.0), (64, 1.0, 1.0)], meter=(4, 4)))
    error = page.evaluate("(t) => { try { MusicgateLive.toAbc(t, {title: 'two'}); return null; } catch (e) { return e.message; } }",
                          tune)
    assert error and error.startswith("two: ABC is written here as one line of melody, and notes overlap at beat 1 ")


def test_the_written_tunes_of_the_abc_property_are_written_as_python_writes_them(page):
    """test_abcwrite's written tunes (every meter, bar-line kinds together, pickups, ties, triplets, rests) in
    every key and mode, with and without their bar lines, at the page's tempo."""
    cases: list[Notes] = []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(written_tunes(), st.integers(0, 11), st.sampled_from(MODES), st.booleans())
    def collect(notes, tonic, mode, drop_bars):
        notes = replace(notes, tempos=[(0.0, 120.0)], keys=((0.0, Key(tonic, mode)),))
        cases.append(replace(notes, bars=()) if drop_bars else notes)

    collect()
    got = page_abc(page, [as_page_tune(n) for n in cases])
    wrong = [(json.dumps(as_page_tune(n)), text, to_abc(n)) for n, text in zip(cases, got) if text != to_abc(n)]
    assert not wrong, wrong[:3]
    assert len(cases) >= 150


# -- the panel ----------------------------------------------------------------------------------------
def test_the_panel_shows_the_drawn_tunes_abc(browser, site):
    p = browser.open(site["page"])
    try:
        p.select_option("#live-model", FORM)
        p.select_option("#live-key", "A dorian")
        tune_of = """() => { const v = id => document.getElementById(id).value;
            const o = MusicgateLive.panelOptions(v('live-model'), v('live-key'), Number(v('live-temperature')),
                                                 Number(v('live-seed')), v('live-bars'), v('live-meter'));
            const t = MusicgateLive.generate(o);
            return {ids: t.ids, octaveShift: t.octaveShift, title: `${t.model} in ${t.key}, seed ${t.seed}`}; }"""
        closed = p.is_visible("#live-abc-text")
        summary = p.inner_text("#live-abc summary")
        first = p.text_content("#live-abc-text")  # the first tune, drawn when the page opened
        shown = {}
        for seed in ("5", "6"):
            p.fill("#live-seed", seed)
            p.click("#live-generate")
            p.wait_for_timeout(300)
            shown[seed] = (p.text_content("#live-abc-text"), p.evaluate(tune_of))
        saved = p.evaluate("""() => { const a = document.getElementById('live-abc-save');
            return [decodeURIComponent(a.href.slice(a.href.indexOf(',') + 1)), a.download]; }""")
        p.select_option("#live-meter", "dance:jig")  # a dance: the tune's ABC names its rhythm
        p.click("#live-generate")
        p.wait_for_timeout(300)
        jig = (p.text_content("#live-abc-text"), p.evaluate(tune_of))
        p.click("#live-abc summary")
        opened = p.is_visible("#live-abc-text")
        errors = list(p.errors)
    finally:
        p.close()
    assert summary == "ABC notation" and not closed and opened and errors == []
    assert first.startswith("X:1\nT:") and "K:" in first
    _, tok, meta = site["models"][FORM]
    for seed, (text, tune) in shown.items():
        assert tune["title"] == f"{FORM} in A dorian, seed {seed}"
        assert text == to_abc(as_generate_writes(tok, tune["ids"], tune["octaveShift"], meta), title=tune["title"])
        assert "\nK:Ador\n" in text
    assert shown["5"][0] != shown["6"][0] != first
    assert saved == [shown["6"][0], f"{FORM}_A-dorian_6.abc"]  # "Save as .abc": the text shown, named as generate names it
    assert "\nR:jig\n" in jig[0] and "\nM:6/8\n" in jig[0]
    assert jig[0] == to_abc(as_generate_writes(tok, jig[1]["ids"], jig[1]["octaveShift"], meta), title=jig[1]["title"],
                            rhythm="jig")


def test_the_gallery_loads_abc_js_before_the_panel():
    assert live.SCRIPTS.index("abc.js") < live.SCRIPTS.index("player.js")
    assert (live.script_dir() / "abc.js").is_file()
    assert 'src="live/abc.js"' in live.section_html([("x", "model-x.js")])
    assert Path(live.script_dir() / "abc.js").read_text(encoding="utf-8").count("live.toAbc = toAbc") == 1
