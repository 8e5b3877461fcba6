"""The live generator of the gallery page, in a real browser (headless Debian chromium via Playwright).

The page's JavaScript must compute what PyTorch computes (logits of each cell), allow exactly the
tokens the Python grammar allows, sample reproducibly, produce tunes the Python tokenizer decodes,
play them, and show a message (never a blank panel) when its files or Web Audio are missing.
"""
from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from musicgate.errors import ConfigError
from musicgate.music.keys import Key, parse_key
from musicgate.nn.models import RecurrentLM
from musicgate.teach import live
from musicgate.tokens.grammar import MelodyGrammar
from musicgate.tokens.tokenizer import make_tokenizer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
TINY = {"tiny-rnn": "rnn", "tiny-lstm": "lstm", "tiny-gru": "gru"}
FORM = "tiny-form"  # the site's model with form inputs (a bar plan)
BUCKETS = 6  # its form inputs' buckets: few, so a tune's bar lines soon pass the clip
LOOK = "tiny-look"  # the site's model with lookback inputs (and form inputs, as the shipped models have)
CORPUS = "tiny-corpus"  # FORM's weights, and its checkpoint's bar-line counts, from which the page draws plans
BAR_LINES = {"8": 5, "16": 50, "17": 25, "19": 20}  # bar lines -> training tunes (an AABB-rich corpus)
METERS = "tiny-meters"  # FORM's weights, BAR_LINES, and counts per meter for two meters (the page draws from those)
BY_METER = {"6/8": {"30": 25}, "2/4": {"9": 40, "4": 500}, "3/4": {"12": 5}}  # 3/4: too few tunes of its own
LOOK_BARS = [1, 2, 4, 8]  # as configs/folk-*-lookback.yaml
COPY = "tiny-copy"  # lookback with the repeat runs, the bar position and the copy head
TONIC = "tiny-tonic"  # form and lookback inputs in the tonic frame (musicgate.nn.tonic)


def _need_browser() -> str:
    path = shutil.which(CHROMIUM) or shutil.which("chromium")
    if path is None:
        pytest.skip(f"chromium is not installed ({CHROMIUM}); the live page's tests need Debian's chromium: "
                    "apt-get install -y chromium")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed; the live page's tests drive chromium with it: "
                    "pip install 'musicgate[test]'")
    return path


def tiny_model(cell: str, tok, seed: int, form_inputs: int = 0, lookback: list[int] | None = None,
               copy: bool = False, tonic: bool = False) -> RecurrentLM:
    """A small randomly initialised model; biases (and form tables, with ``form_inputs``, and the
    lookback projection, zero at the start, with ``lookback``; with ``copy`` also the runs, position
    and copy head) made non-zero so every term of the step counts."""
    torch.manual_seed(seed)
    extra = dict(form_inputs=form_inputs, barline_ids=tok.barline_ids.tolist()) if form_inputs else {}
    if lookback:
        extra.update(lookback=lookback, lookback_clock=tok.lookback_clock())
    if copy:
        extra.update(lookback_runs=True, lookback_position=True, lookback_copy=True)
    if tonic:
        from musicgate.train.loop import tonic_spec

        extra.update(tonic_relative=tonic_spec(tok))
    model = RecurrentLM(vocab_size=len(tok), cell=cell, hidden=12, layers=2, embed=10, **extra)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
            elif name.startswith("form."):
                p.normal_(0, 1.0)
            elif name in ("look.proj.weight", "look.run_proj.weight"):
                p.normal_(0, 0.15)  # 128 inputs: a lookback term about as large as the embedding
            elif name in ("look.pos.weight", "look.copy_state.weight", "look.copy_run.weight"):
                p.normal_(0, 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A page folder, as the gallery writes it: three tiny models (rnn, lstm, gru), one with the vocabulary
    without form tokens, one with form inputs (a bar plan), the same with its training tunes' bar-line
    counts, one with lookback and form inputs, and the shipped folk-gru."""
    from musicgate.nn.hub import load_model, shipped_models

    _need_browser()
    folder = tmp_path_factory.mktemp("live")
    tok = make_tokenizer("melody", pitch_range=(48, 84))  # form tokens: TIE, repeats, endings
    loaded = [(tiny_model(cell, tok, i), tok, {"name": name}) for i, (name, cell) in enumerate(TINY.items())]
    plain = make_tokenizer("melody", pitch_range=(55, 79), form=False)  # the vocabulary of musicgate 0.x
    loaded.append((tiny_model("gru", plain, 9), plain, {"name": "tiny-plain"}))
    loaded.append((tiny_model("lstm", tok, 11, form_inputs=BUCKETS), tok, {"name": FORM}))
    loaded.append((tiny_model("lstm", tok, 11, form_inputs=BUCKETS), tok,
                   {"name": CORPUS, "dataset": {"bar_lines": BAR_LINES}}))  # as load_model's meta has them
    loaded.append((tiny_model("lstm", tok, 11, form_inputs=BUCKETS), tok,
                   {"name": METERS, "dataset": {"bar_lines": BAR_LINES, "bar_lines_by_meter": BY_METER}}))
    loaded.append((tiny_model("gru", tok, 13, form_inputs=BUCKETS, lookback=LOOK_BARS), tok, {"name": LOOK}))
    loaded.append((tiny_model("lstm", tok, 14, form_inputs=BUCKETS, lookback=LOOK_BARS, copy=True), tok, {"name": COPY}))
    loaded.append((tiny_model("gru", tok, 15, form_inputs=BUCKETS, lookback=LOOK_BARS, tonic=True), tok, {"name": TONIC}))
    if "folk-gru" in shipped_models():
        model, stok, meta = load_model("folk-gru")
        loaded.append((model, stok, {"name": "folk-gru", "dataset": meta.get("dataset")}))  # its bar-line counts
    section = live.write_live(folder, loaded)
    page = live.standalone_page(folder, section)
    return {"page": page, "models": {m[2]["name"]: (m[0], m[1]) for m in loaded}}


class Browser:
    """One chromium for the module; ``open`` gives a fresh page that records console errors."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._profile = tempfile.TemporaryDirectory()
        self._pw = sync_playwright().start()
        self.ctx = self._pw.chromium.launch_persistent_context(
            self._profile.name, executable_path=_need_browser(), headless=True, args=ARGS,
            viewport={"width": 1300, "height": 900})

    def open(self, path: Path, init_script: str | None = None):
        page = self.ctx.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        if init_script:
            page.add_init_script(init_script)
        page.goto(path.as_uri(), wait_until="load")
        return page

    def close(self):
        self.ctx.close()
        self._pw.stop()
        self._profile.cleanup()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def page(browser, site):
    p = browser.open(site["page"])
    yield p
    p.close()


def _real(site, name: str = "folk-gru") -> str:
    if name not in site["models"]:
        pytest.skip(f"the shipped {name} is not installed in this copy of musicgate")
    return name


# -- the model ---------------------------------------------------------------------------------
def test_logits_equal_pytorch(page, site):
    names = list(site["models"])
    for name in names:
        model, tok = site["models"][name]
        rng = np.random.default_rng(7)
        ids = [tok.bos_id, tok.key_id(Key(2, "major")), tok.meter_id((6, 8))] + \
            rng.integers(0, len(tok), 37).tolist()
        js = np.array(page.evaluate(
            "([name, ids]) => MusicgateLive.loadModels([name]).models[name].logitsOf(ids)", [name, ids]))
        with torch.no_grad():
            want = model(torch.tensor([ids]))[0][0].numpy()
        assert js.shape == want.shape
        assert np.abs(js - want).max() <= 1e-4, (name, np.abs(js - want).max())


# -- the bar plan (form inputs) -----------------------------------------------------------------
def _barred_ids(tok, bars: int, seed: int = 7) -> list[int]:
    """A header and random tokens with ``bars`` bar-line tokens among them (BAR and repeat marks)."""
    rng = np.random.default_rng(seed)
    body = rng.integers(0, len(tok), 60)
    body[rng.choice(len(body), bars, replace=False)] = rng.choice(tok.barline_ids, bars)
    return [tok.bos_id, tok.key_id(Key(2, "major")), tok.meter_id((6, 8))] + body.tolist()


def test_form_logits_equal_pytorch_with_and_without_a_plan(page, site):
    model, tok = site["models"][FORM]
    assert model.has_form_inputs and model.form.buckets == BUCKETS
    ids = _barred_ids(tok, 3 * BUCKETS)  # bar lines well past the clip at BUCKETS - 1
    assert int(np.isin(ids, tok.barline_ids).sum()) >= 2 * BUCKETS
    plans = [0, 2, BUCKETS, 16, 40, -1]
    js = page.evaluate("""([name, ids, plans]) => { const m = MusicgateLive.loadModels([name]).models[name];
        return {planned: plans.map(k => m.logitsOf(ids, k)), none: m.logitsOf(ids), form: m.hasFormInputs}; }""",
                       [FORM, ids, plans])
    assert js["form"] is True
    with torch.no_grad():
        none = model(torch.tensor([ids]))[0][0].numpy()  # no plan: the "no plan" entries at every position
        for k, got in zip(plans, js["planned"]):
            want = model(torch.tensor([ids]), plan=torch.tensor([k]))[0][0].numpy()
            assert np.abs(np.array(got) - want).max() <= 1e-4, (k, np.abs(np.array(got) - want).max())
        assert np.abs(np.array(js["none"]) - none).max() <= 1e-4
        # the plan is read: different plans, and a plan against none, give different logits
        assert np.abs(np.array(js["planned"][1]) - np.array(js["planned"][4])).max() > 1e-2
        assert np.abs(np.array(js["planned"][3]) - none).max() > 1e-2
        assert np.allclose(js["planned"][-1], js["none"])  # -1: no plan, as in Python


def follows_grammar(tok, ids, max_notes: int) -> bool:
    """generate's meter grammar; a tune cut at ``max_notes`` without its rules of style (it ends where it may)."""
    from musicgate.generation.sample import grammar_for

    ids = np.asarray(ids)
    return grammar_for(tok).is_valid(ids, style=int((tok.pitch_of[ids] >= 0).sum()) < max_notes)


def test_a_planned_tune_decodes_in_python(page, site):
    from musicgate.generation.sample import grammar_for

    model, tok = site["models"][FORM]
    tunes = page.evaluate("""(name) => [[8, 3], [32, 3], [undefined, 3], [12, 5]].map(([bars, seed]) => {
        const t = MusicgateLive.generate({model: name, key: 'E minor', temperature: 1, seed, maxNotes: 40, bars});
        return {ids: t.ids, notes: t.notes.map(n => n.pitch), plannedBars: t.plannedBars, barLines: t.barLines}; })""",
                          FORM)
    assert [t["plannedBars"] for t in tunes] == [8, 32, 16, 12]  # 16: Python's DEFAULT_BARS
    from musicgate.generation.api import DEFAULT_BARS

    assert page.evaluate("() => MusicgateLive.DEFAULT_BARS") == DEFAULT_BARS
    from musicgate.generation.api import MIN_DRAWN_BARS
    assert page.evaluate("() => MusicgateLive.MIN_DRAWN_BARS") == MIN_DRAWN_BARS

    for t in tunes:
        ids = np.array(t["ids"])
        assert ids[-1] == tok.eos_id and follows_grammar(tok, ids, 40)
        notes = tok.decode(ids)
        assert notes.pitch.tolist() == t["notes"] and tok.key_of(ids) == parse_key("E minor")
        assert t["barLines"] == int(np.isin(ids, tok.barline_ids).sum())
    assert tunes[0]["ids"] != tunes[1]["ids"]  # same seed, another plan: the model read it
    # the tune's tokens were drawn from the logits PyTorch gives with that plan
    ids = tunes[0]["ids"]
    js = np.array(page.evaluate("([name, ids]) => MusicgateLive.loadModels([name]).models[name].logitsOf(ids, 8)",
                                [FORM, ids]))
    with torch.no_grad():
        want = model(torch.tensor([ids]), plan=torch.tensor([8]))[0][0].numpy()
    assert np.abs(js - want).max() <= 1e-4
    plain = page.evaluate("""() => MusicgateLive.generate({model: 'tiny-gru', key: 'E minor', temperature: 1, seed: 3, maxNotes: 40,
        bars: 8})""")  # a model without form inputs ignores bars
    assert plain["plannedBars"] is None
    assert plain["ids"] == page.evaluate("""() => MusicgateLive.generate({model: 'tiny-gru', key: 'E minor', temperature: 1, seed: 3,
        maxNotes: 40}).ids""")


def test_bad_bars_and_bad_form_headers_are_refused_clearly(page, site):
    errors = page.evaluate("""(name) => [0, -1, 2.5, '16', NaN, null, Infinity].map(bars => {
        try { MusicgateLive.generate({model: name, key: 'D major', temperature: 1, bars}); return null; }
        catch (e) { return e.message; } })""", FORM)
    assert all(e and e.startswith("bars must be a whole number >= 1") for e in errors), errors
    assert errors[2].endswith("got 2.5")
    plan = page.evaluate("""(name) => { const m = MusicgateLive.loadModels([name]).models[name];
        try { m.initState(1.5); return null; } catch (e) { return e.message; } }""", FORM)
    assert plan.startswith("plan must be a whole number of bar lines >= 0")
    broken = page.evaluate("""(name) => {
        const good = JSON.parse(window.MUSICGATE_MODELS[name]), out = [];
        const bad = [p => { p.form.buckets = 7; }, p => { p.form.barline_ids = [999]; }, p => { p.form = {}; },
                     p => { p.tensors = p.tensors.filter(t => t.name !== 'form.left.weight'); }];
        for (const change of bad) {
            const p = JSON.parse(JSON.stringify(good)); change(p);
            try { new MusicgateLive.Model(p, 'model-x.js'); out.push(null); } catch (e) { out.push(e.message); } }
        return out; }""", FORM)
    assert broken[0] == "model-x.js: tensor form.count.weight should have shape 8x10", broken
    assert all(b and b.startswith("model-x.js: its form header should be {buckets") for b in broken[1:3]), broken
    assert broken[3] == "model-x.js: tensor form.left.weight should have shape 7x10", broken


def test_the_panel_plans_bars_for_a_model_with_form_inputs(browser, site, tmp_path):
    p = browser.open(site["page"])
    try:
        shown = {}
        for name in ("tiny-gru", FORM):
            p.select_option("#live-model", name)
            shown[name] = p.is_visible("#live-bars")
        choices = p.evaluate("() => [...document.getElementById('live-bars').options].map(o => Number(o.value))")
        default = p.evaluate("() => document.getElementById('live-bars').value")
        p.select_option("#live-bars", "12")
        p.fill("#live-seed", "4")
        p.click("#live-generate")
        p.wait_for_timeout(500)
        label = p.get_attribute("#live-roll", "aria-label")
        want = p.evaluate("""(name) => { const t = MusicgateLive.generate({model: name, key:
            document.getElementById('live-key').value, temperature: 1, seed: 4, bars: 12,
            maxNotes: MusicgateLive.MAX_NOTES}); return MusicgateLive.summary(t); }""", FORM)
        caps = p.evaluate("""(names) => { const ms = MusicgateLive.loadModels(names).models;
            return [[ms[names[0]], 32], [ms[names[0]], 12], [ms[names[1]], undefined]].map(
                ([m, bars]) => MusicgateLive.maxNotesFor(m, bars)); }""", [FORM, "tiny-gru"])
        shot = tmp_path / "bars.png"
        p.screenshot(path=str(shot), full_page=True)
        errors = list(p.errors)
    finally:
        p.close()
    assert shown == {"tiny-gru": False, FORM: True}
    assert choices == [8, 12, 16, 24, 32] and default == "16"
    assert errors == []
    assert "12 bars planned" in label and label == want, (label, want)
    assert caps == [256, 128, 128]  # 32 bars may need more than the panel's 128 notes
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_the_plan_is_drawn_from_the_corpus_counts(page, site):
    weights = {int(k): v / sum(BAR_LINES.values()) for k, v in BAR_LINES.items()}
    js = page.evaluate("""([corpus, form]) => { const ms = MusicgateLive.loadModels([corpus, form]).models;
        const draw = (m, bars, seed) => MusicgateLive.barPlan(m, bars, seed);
        const seeds = Array.from({length: 4000}, (_, i) => i);
        return {counts: ms[corpus].barLines, plans: seeds.map(s => draw(ms[corpus], undefined, s)),
                again: seeds.slice(0, 50).map(s => draw(ms[corpus], 'corpus', s).plannedBars),
                none: [0, 1, 2].map(s => draw(ms[form], undefined, s)),
                given: [draw(ms[corpus], 12, 3), draw(ms[form], 12, 3)]}; }""", [CORPUS, FORM])
    assert js["counts"] == [[int(k), v] for k, v in BAR_LINES.items()]  # the checkpoint's counts reached the page
    # a corpus whose short tunes are fragments: plans are drawn from 8 bar lines up, as in Python
    short = page.evaluate("""([corpus]) => { const m = MusicgateLive.loadModels([corpus]).models[corpus];
        const fragments = Object.assign(Object.create(Object.getPrototypeOf(m)), m, {barLines: [[4, 1000], [12, 1]]});
        return [0, 1, 2, 3].map(s => MusicgateLive.barPlan(fragments, undefined, s).plannedBars); }""", [CORPUS])
    assert short == [12, 12, 12, 12]
    plans = np.array([p["plannedBars"] for p in js["plans"]])
    assert {p["planSource"] for p in js["plans"]} == {"corpus"}
    assert set(plans.tolist()) == set(weights)  # only the corpus's counts, and every one of them
    for k, w in weights.items():  # in its mix: 4000 seeds, a share within 0.025 (3 standard errors and more)
        assert abs((plans == k).mean() - w) < 0.025, (k, (plans == k).mean(), w)
    assert js["again"] == plans[:50].tolist()  # one seed, one plan
    assert js["none"] == [{"plannedBars": 16, "planSource": "default"}] * 3  # no counts: generate's DEFAULT_BARS
    assert js["given"] == [{"plannedBars": 12, "planSource": "given"}] * 2  # a number given wins


def test_a_drawn_plan_gives_the_tune_that_plan_gives(page, site):
    from musicgate.generation.sample import grammar_for

    tok = site["models"][CORPUS][1]
    tunes = page.evaluate("""([corpus, form]) => [0, 1, 2, 3, 4, 5].map(seed => {
        const o = {key: 'D major', temperature: 1, seed, maxNotes: 40};
        const drawn = MusicgateLive.generate({...o, model: corpus});
        const given = MusicgateLive.generate({...o, model: corpus, bars: drawn.plannedBars});
        const same = MusicgateLive.generate({...o, model: form, bars: drawn.plannedBars});  // the same weights
        return {drawn: [drawn.ids, drawn.plannedBars, drawn.planSource], given: [given.ids, given.planSource],
                same: same.ids, summary: MusicgateLive.summary(drawn)}; })""", [CORPUS, FORM])
    assert len({t["drawn"][1] for t in tunes}) > 1  # seeds draw other plans
    for t in tunes:
        ids, planned, source = t["drawn"]
        assert planned in {int(k) for k in BAR_LINES} and source == "corpus"
        assert t["given"] == [ids, "given"] and t["same"] == ids  # the plan's own stream: the tokens are as given
        assert ids[-1] == tok.eos_id and follows_grammar(tok, ids, 40)
        assert f", {planned} bars planned (drawn from the corpus), " in t["summary"]


def test_a_tune_s_plan_is_drawn_from_the_training_tunes_in_its_meter(page, site):
    from musicgate.nn.models import trace_gates
    from musicgate.viz.gates import per_note

    model, tok = site["models"][METERS]
    js = page.evaluate("""(name) => { const m = MusicgateLive.loadModels([name]).models[name];
        const tunes = Array.from({length: 120}, (_, seed) => MusicgateLive.generate({model: name, key: "D major",
            temperature: 1, seed, maxNotes: 24})).map(t => ({ids: t.ids, plannedBars: t.plannedBars,
            planSource: t.planSource, planRead: t.planRead, noteKeep: t.noteKeep, units: t.units}));
        const asked = [0, 1, 2].map(seed => MusicgateLive.generate({model: name, key: 'D major', temperature: 1,
            seed, maxNotes: 24, meter: '6/8'}).plannedBars);
        return {byMeter: m.barLinesByMeter, tunes, asked}; }""", METERS)
    assert js["byMeter"] == {"6/8": [[30, 25]], "2/4": [[4, 500], [9, 40]]}  # 3/4 left out, as in Python
    assert js["asked"] == [30, 30, 30]
    meters = [tok.vocab[t["ids"][2]][len("METER_"):] for t in js["tunes"]]
    assert {"6/8", "2/4"} <= set(meters) and len(set(meters)) > 3  # an untrained model: meters of every kind
    for meter, t in zip(meters, js["tunes"]):
        want = {"6/8": {30}, "2/4": {9}}.get(meter, {int(k) for k in BAR_LINES})
        assert t["plannedBars"] in want and t["planSource"] == "corpus", (meter, t["plannedBars"])
        if t["planRead"] == t["plannedBars"]:  # the model read the plan from the tune's first token
            ids = np.array(t["ids"])
            trace = trace_gates(model, ids[None].astype(np.int64), plan=torch.tensor([t["plannedBars"]]))
            want = per_note(trace.forget_gate[-1, 0], tok.note_index(ids), how="mean")[:, t["units"]]
            assert np.abs(np.array(t["noteKeep"]) - want).max() <= 1e-4


def test_bad_bar_plans_are_refused_clearly(page, site):
    errors = page.evaluate("""(name) => ['Corpus', 'corpus ', '16', '', 'default'].map(bars => {
        try { MusicgateLive.generate({model: name, key: 'D major', temperature: 1, bars}); return null; }
        catch (e) { return e.message; } })""", CORPUS)
    assert all(e and e.startswith('bars must be a whole number >= 1 (the bar lines the tune is planned to have) '
                                  'or "corpus"') for e in errors), errors
    assert errors[0].endswith('got "Corpus"')
    no_counts = page.evaluate("""(name) => { try { MusicgateLive.generate({model: name, key: 'D major', temperature: 1,
        bars: 'corpus'}); return null; } catch (e) { return e.message; } }""", FORM)
    assert no_counts and no_counts.startswith('bars "corpus" needs a model whose file has its training tunes\' '
                                              f"bar-line counts, and {FORM} has none"), no_counts
    plain = page.evaluate("""() => MusicgateLive.generate({model: 'tiny-gru', key: 'D major', temperature: 1,
        bars: 'corpus'})""")  # a model without form inputs plans nothing, as with a number
    assert plain["plannedBars"] is None and plain["planSource"] is None
    broken = page.evaluate("""([corpus, plain]) => {
        const out = [], bad = [[corpus, {x: 3}], [corpus, {'0': 3}], [corpus, {'16': -1}], [corpus, {'16': 2.5}],
                                [corpus, {'16': 0}], [corpus, [16, 17]], [corpus, {'1e1': 2}], [plain, {'16': 3}]];
        for (const [name, counts] of bad) {
            const p = JSON.parse(window.MUSICGATE_MODELS[name]); p.barLines = counts;
            try { new MusicgateLive.Model(p, 'model-x.js'); out.push(null); } catch (e) { out.push(e.message); } }
        return out; }""", [CORPUS, "tiny-gru"])
    assert all(b and b.startswith("model-x.js: its barLines should be {bar lines (a whole number >= 1)")
               for b in broken), broken


def test_the_panel_starts_on_the_corpus_plan_for_a_model_with_counts(browser, site):
    p = browser.open(site["page"])
    try:
        menus = {}
        for name in (CORPUS, FORM, CORPUS):
            p.select_option("#live-model", name)
            menus.setdefault(name, []).append(p.evaluate("""() => { const b = document.getElementById('live-bars');
                return {value: b.value, options: [...b.options].map(o => [o.value, o.text])}; }"""))
        p.fill("#live-seed", "7")
        p.click("#live-generate")
        p.wait_for_timeout(500)
        label = p.get_attribute("#live-roll", "aria-label")
        kept = []  # a reader's choice stays across models that have it, else each model's default
        for name, pick in ((CORPUS, "24"), (FORM, None), (CORPUS, "corpus"), (FORM, None), (CORPUS, None)):
            p.select_option("#live-model", name)
            if pick:
                p.select_option("#live-bars", pick)
            kept.append(p.evaluate("() => document.getElementById('live-bars').value"))
        want = p.evaluate("""(name) => { const o = MusicgateLive.panelOptions(name, document.getElementById('live-key').value,
            1, 7, 'corpus'); const t = MusicgateLive.generate(o); return {o, summary: MusicgateLive.summary(t),
            planned: t.plannedBars, cut: MusicgateLive.maxNotesFor(MusicgateLive.loadModels([name]).models[name],
            t.plannedBars)}; }""", CORPUS)
        help_text = p.inner_text("#live-panel .live-info")
        errors = list(p.errors)
    finally:
        p.close()
    numbers = [[str(n), str(n)] for n in (8, 12, 16, 24, 32)]
    assert menus[CORPUS][0] == {"value": "corpus", "options": [["corpus", "as in the corpus"]] + numbers}
    assert menus[FORM][0] == {"value": "16", "options": numbers}  # no counts: no entry, generate's 16
    assert menus[CORPUS][1]["value"] == "corpus"  # back to a model with counts: the corpus again
    assert errors == []
    assert label == want["summary"] and f"{want['planned']} bars planned (drawn from the corpus)" in label, label
    assert want["o"]["bars"] == "corpus" and want["o"]["maxNotes"] == want["cut"]  # the cut of the drawn plan
    assert "as in the corpus: drawn for each seed" in help_text
    assert kept == ["24", "24", "corpus", "16", "corpus"], kept


# -- lookback inputs (what the tune played k bars ago) ------------------------------------------
def _melody_ids(tok) -> list[int]:
    """A 4/4 tune of 13 bars (A B A C A B T T' A B A end, in a repeat): bar lines, a REST and a TIE,
    and bars repeated 1, 2, 4 and 8 bars apart, so every lookback distance finds notes."""
    def bar(*notes, end="BAR"):
        out = []
        for p, d in notes:
            out += [{None: "REST", "~": "TIE"}.get(p, f"PITCH_{p}"), f"DUR_{d}"]
        return out + [end]

    a, b = bar((62, 12), (64, 12), (66, 24)), bar((67, 24), (69, 12), (67, 12))
    c = bar((66, 12), (None, 12), (64, 12), (62, 12))
    t = bar((69, 24), (71, 12), (73, 12)) + bar(("~", 12), (71, 12), (69, 24))
    names = ["BOS", "KEY_D_major", "METER_4/4", "REPEAT_START", *a, *b, *a, *c, *a, *b, *t, *a, *b, *a,
             *bar((62, 48), end="REPEAT_END"), "EOS"]
    return [tok.ids[n] for n in names]


def test_lookback_ids_follow_the_rule(page, site):
    from musicgate.generation.sample import grammar_for
    from musicgate.nn.lookback import reference_lookback

    model, tok = site["models"][LOOK]
    v, clock = len(tok), tok.lookback_clock()
    melody = _melody_ids(tok)
    assert grammar_for(tok).is_valid(np.array(melody)) and len(tok.decode(np.array(melody)).bars) > max(LOOK_BARS)
    rng = np.random.default_rng(11)
    padded = melody[:3] + [x for t in melody[3:] for x in ([t, tok.pad_id] if rng.random() < 0.3 else [t])]
    seqs = [melody, padded, _barred_ids(tok, 20)] + [ids for name, ids in _prefixes(site) if name == "tiny-lstm"][-6:]
    spans = [model.look.span, 20]  # 20 grid steps: the rest of each 4/4 bar is neither kept nor looked up
    got = page.evaluate("""([name, seqs, spans]) => spans.map(span => {
        const p = JSON.parse(window.MUSICGATE_MODELS[name]); p.lookback.span = span;
        const m = new MusicgateLive.Model(p); return seqs.map(ids => m.lookbackIdsOf(ids)); })""", [LOOK, seqs, spans])
    for span, per_span in zip(spans, got):
        for ids, js in zip(seqs, per_span):
            want = reference_lookback(ids, LOOK_BARS, clock, v, span=span)
            assert np.array_equal(np.array(js).reshape(want.shape), want), (span, [tok.vocab[i] for i in ids[:8]])
    hits = (reference_lookback(melody, LOOK_BARS, clock, v) < v).sum(0)
    assert (hits > 20).all(), hits  # every distance looks back on notes
    assert (reference_lookback(melody, LOOK_BARS, clock, v, span=20) < v).sum() < hits.sum() / 2


def test_lookback_logits_equal_pytorch_with_and_without_a_plan(page, site):
    model, tok = site["models"][LOOK]
    assert model.has_lookback and model.has_form_inputs and model.look.bars == LOOK_BARS
    ids = _melody_ids(tok)
    plans = [None, 13, 4, -1]
    js = page.evaluate("""([name, ids, plans]) => { const m = MusicgateLive.loadModels([name]).models[name];
        return {logits: plans.map(k => m.logitsOf(ids, k)), look: m.hasLookback, form: m.hasFormInputs}; }""",
                       [LOOK, ids, plans])
    assert js["look"] is True and js["form"] is True
    blind = tiny_model("gru", tok, 0, form_inputs=BUCKETS, lookback=LOOK_BARS)
    blind.load_state_dict(model.state_dict())
    with torch.no_grad():
        blind.look.proj.weight.zero_()  # the same model not reading what it played before
        for plan, got in zip(plans, js["logits"]):
            p = None if plan is None else torch.tensor([plan])
            want = model(torch.tensor([ids]), plan=p)[0][0].numpy()
            assert np.abs(np.array(got) - want).max() <= 1e-4, (plan, np.abs(np.array(got) - want).max())
            # streaming: one token at a time, the state carrying the memory, gives the same
            state, steps = None, []
            for i, t in enumerate(ids):
                out, state = model(torch.tensor([[t]]), state, plan=p if i == 0 else None)
                steps.append(out[0, 0].numpy())
            assert np.abs(np.array(got) - np.array(steps)).max() <= 1e-4
            # the lookback term is read: without it the logits differ
            assert np.abs(np.array(got) - blind(torch.tensor([ids]), plan=p)[0][0].numpy()).max() > 0.1


def test_runs_position_and_copy_head_equal_pytorch(page, site):
    model, tok = site["models"][COPY]
    assert model.look.runs and model.look.position and model.look.copy
    ids = _melody_ids(tok)
    js = page.evaluate("""([name, ids]) => { const m = MusicgateLive.loadModels([name]).models[name];
        return [13, -1].map(k => m.logitsOf(ids, k)); }""", [COPY, ids])
    for plan, got in zip([13, -1], js):
        want = model(torch.tensor([ids]), plan=torch.tensor([plan]))[0][0].detach().numpy()
        assert np.abs(np.array(got) - want).max() <= 1e-4, (plan, np.abs(np.array(got) - want).max())
    for part in ("run_proj", "pos", "copy_run"):   # each term is read: without it the logits differ
        blind = tiny_model("lstm", tok, 14, form_inputs=BUCKETS, lookback=LOOK_BARS, copy=True)
        with torch.no_grad():
            getattr(blind.look, part).weight.zero_()
            other = blind(torch.tensor([ids]), plan=torch.tensor([13]))[0][0].numpy()
        assert np.abs(np.array(js[0]) - other).max() > 0.01, part   # 100x the tolerance above


def test_a_lookback_tune_decodes_in_python(page, site):
    from musicgate.generation.sample import grammar_for
    from musicgate.nn.lookback import reference_lookback
    from musicgate.nn.models import trace_gates
    from musicgate.viz.gates import per_note

    model, tok = site["models"][LOOK]
    tunes = page.evaluate("""(name) => [[16, 1], [40, 2], [undefined, 5]].map(([bars, seed]) => {
        const t = MusicgateLive.generate({model: name, key: 'G major', temperature: 1, seed, maxNotes: 64, bars});
        return {ids: t.ids, notes: t.notes.map(n => n.pitch), plannedBars: t.plannedBars, noteKeep: t.noteKeep,
                units: t.units, bars: t.bars.length, planRead: t.planRead}; })""", LOOK)
    assert [t["plannedBars"] for t in tunes] == [16, 40, 16]
    for t in tunes:
        ids = np.array(t["ids"])
        assert ids[-1] == tok.eos_id and follows_grammar(tok, ids, 64)
        notes = tok.decode(ids)
        assert notes.pitch.tolist() == t["notes"] and tok.key_of(ids) == parse_key("G major")
        assert len(notes.bars) == t["bars"] > max(LOOK_BARS)
        assert (reference_lookback(ids, LOOK_BARS, tok.lookback_clock(), len(tok)) < len(tok)).any()
        # drawn from the logits PyTorch gives (the gate view's columns are its update gates)
        assert t["planRead"] == t["plannedBars"]   # no first part past half the plan: one plan throughout
        trace = trace_gates(model, ids[None].astype(np.int64), plan=torch.tensor([t["plannedBars"]]))
        want = per_note(trace.update_gate[-1, 0], tok.note_index(ids), how="mean")[:, t["units"]]
        assert np.abs(np.array(t["noteKeep"]) - want).max() <= 1e-4
    assert tunes[0]["ids"] != tunes[1]["ids"]


def test_bad_lookback_headers_are_refused_clearly(page):
    broken = page.evaluate("""(name) => {
        const good = JSON.parse(window.MUSICGATE_MODELS[name]), out = [];
        const bad = [p => { p.lookback.bars = [1, 2, 4]; }, p => { p.lookback.bars = [2, 1, 4, 8]; },
                     p => { p.lookback.span = 0; }, p => { p.lookback.clock.line_ids = []; },
                     p => { p.lookback.clock.dur_steps.pop(); }, p => { p.lookback.clock.pad_id = 9999; },
                     p => { p.tensors.find(t => t.name === 'look.proj.weight').shape = [10, 96]; },
                     p => { p.tensors = p.tensors.filter(t => t.name !== 'look.table.weight'); }];
        for (const change of bad) {
            const p = JSON.parse(JSON.stringify(good)); change(p);
            try { new MusicgateLive.Model(p, 'model-x.js'); out.push(null); } catch (e) { out.push(e.message); } }
        return out; }""", LOOK)
    v = 1 + len(make_tokenizer("melody", pitch_range=(48, 84)))
    assert broken[0] == f"model-x.js: tensor look.table.weight should have shape {3 * v}x32", broken
    assert broken[1].startswith("model-x.js: its lookback header should have bars: distinct whole numbers"), broken
    assert broken[2].startswith("model-x.js: its lookback header should have span:"), broken
    assert all(b.startswith("model-x.js: its lookback header should have clock.") for b in broken[3:6]), broken
    assert broken[6] == "model-x.js: tensor look.proj.weight should have shape 10x128", broken
    assert broken[7] == f"model-x.js: tensor look.table.weight should have shape {4 * v}x32", broken


def test_the_tonic_frame_equals_pytorch_in_any_key(page, site):
    model, tok = site["models"][TONIC]
    assert model.has_tonic_frame
    d = _melody_ids(tok)
    tunes = {"D major": d, "E major, then A dorian": tok.transpose(d, 2).tolist()[:30]
             + [tok.ids["KEY_A_dorian"]] + tok.transpose(d, 7).tolist()[30:]}
    for name, ids in tunes.items():
        got = page.evaluate("""([name, ids]) => { const m = MusicgateLive.loadModels([name]).models[name];
            return {logits: m.logitsOf(ids, 13), frame: m.hasTonicFrame}; }""", [TONIC, ids])
        assert got["frame"] is True
        want = model(torch.tensor([ids]), plan=torch.tensor([13]))[0][0].detach().numpy()
        assert np.abs(np.array(got["logits"]) - want).max() <= 1e-4, (name, np.abs(np.array(got["logits"]) - want).max())
        blind = tiny_model("gru", tok, 15, form_inputs=BUCKETS, lookback=LOOK_BARS)   # the same weights, no frame
        other = blind(torch.tensor([ids]), plan=torch.tensor([13]))[0][0].detach().numpy()
        assert np.abs(np.array(got["logits"]) - other).max() > 0.1, name


def test_bad_tonic_headers_are_refused_clearly(page):
    broken = page.evaluate("""(name) => {
        const good = JSON.parse(window.MUSICGATE_MODELS[name]), out = [];
        for (const spec of [[3, 7], [3, 7, 100, 11], [3, 7, 9999, 49], [3, 7, 5, 49], "x"]) {
            const p = JSON.parse(JSON.stringify(good)); p.tonic = spec;
            try { new MusicgateLive.Model(p, 'model-x.js'); out.push(null); } catch (e) { out.push(e.message); } }
        return out; }""", TONIC)
    assert all(b and b.startswith("model-x.js: its tonic header should be [first KEY id, modes, first PITCH id")
               for b in broken), broken


def test_bad_registers_are_refused_clearly(page):
    broken = page.evaluate("""(name) => {
        const good = JSON.parse(window.MUSICGATE_MODELS[name]), out = [];
        for (const register of [-1, 128, "70", [70], Infinity]) {
            const p = JSON.parse(JSON.stringify(good)); p.register = register;
            try { new MusicgateLive.Model(p, 'model-x.js'); out.push(null); } catch (e) { out.push(e.message); } }
        return out; }""", TONIC)
    assert all(b and b.startswith("model-x.js: its register should be a MIDI pitch (0-127)") for b in broken), broken


def test_bad_copy_headers_are_refused_clearly(page):
    broken = page.evaluate("""(name) => {
        const good = JSON.parse(window.MUSICGATE_MODELS[name]), out = [];
        const bad = [p => { p.lookback.copy = "yes"; }, p => { delete p.lookback.copy_scale; },
                     p => { p.tensors = p.tensors.filter(t => t.name !== 'look.copy_run.weight'); },
                     p => { p.tensors.find(t => t.name === 'look.pos.weight').shape = [10, 10]; }];
        for (const change of bad) {
            const p = JSON.parse(JSON.stringify(good)); change(p);
            try { new MusicgateLive.Model(p, 'model-x.js'); out.push(null); } catch (e) { out.push(e.message); } }
        return out; }""", COPY)
    assert all(b.startswith("model-x.js: its lookback header should have runs, position and copy") for b in broken[:2]), broken
    assert broken[2] == "model-x.js: tensor look.copy_run.weight should have shape 24x1", broken
    assert broken[3].startswith("model-x.js: tensor look.pos.weight should have shape 193x10"), broken


# -- the grammar -------------------------------------------------------------------------------
def _prefixes(site) -> list[tuple[str, list[int]]]:
    """Prefixes from the real sampler (the tiny models play oddly, so odd states come up) and from a
    uniform random walk under the meter grammar (repeat marks closing short bars, ties, pickups)."""
    from musicgate.generation.sample import sample

    out = []
    rng = np.random.default_rng(3)
    for name, (model, tok) in site["models"].items():
        keys = [Key(int(t), m) for t, m in zip(rng.integers(0, 12, 4), ("major", "minor", "dorian", "mixolydian"))]
        for seq in sample(model, tok, keys=keys, length=24, seed=1, n_threads=1):
            for cut in sorted(set(rng.integers(1, len(seq) + 1, 8).tolist())):
                out.append((name, [int(x) for x in seq[:cut]]))
    tok = site["models"]["tiny-lstm"][1]
    g = MelodyGrammar(tok, meter=True)
    for _ in range(12):
        ids = [tok.bos_id]
        state = g.start(1)
        while ids[-1] != tok.eos_id and len(ids) < 80:
            allowed = np.flatnonzero(g.allowed(state)[0])
            t = int(rng.choice(allowed))
            g.advance(state, [t])
            ids.append(t)
            if rng.random() < 0.1:
                out.append(("tiny-lstm", list(ids)))
        out.append(("tiny-lstm", ids[:-1]))
    w = lambda *names: [tok.ids[n] for n in names]  # noqa: E731  # the parts and the rules of style
    bar = w("PITCH_60", "DUR_48", "BAR")
    head = [tok.bos_id, tok.key_id(Key(2)), tok.meter_id((4, 4))]
    for b in range(1, 5):   # a first part of five bars, then a second of b bars: the end waits for three
        out.append(("tiny-lstm", head + bar * 4 + w("PITCH_60", "DUR_48", "REPEAT_END") + bar * (b - 1)
                    + w("PITCH_60", "DUR_24")))
    out.append(("tiny-lstm", head + bar * 4 + w("PITCH_60", "DUR_48", "PART_END", "REPEAT_START")))   # no end after |:
    for b in range(1, 4):   # a repeat of b bars: its :| from the third
        out.append(("tiny-lstm", head + w("REPEAT_START") + bar * (b - 1) + w("PITCH_60", "DUR_48")))
    for b in range(1, 6):   # a first ending's bar number b: only its :| ends the fourth
        out.append(("tiny-lstm", head + w("REPEAT_START") + bar * 3 + w("ENDING_1") + bar * (b - 1)
                    + w("PITCH_60", "DUR_48")))
    return out


def test_grammar_allows_exactly_what_python_allows(page, site):
    cases = _prefixes(site)
    js = page.evaluate("""(cases) => cases.map(([name, ids, meter]) => {
        const m = MusicgateLive.loadModels([name]).models[name];
        const g = new MusicgateLive.Grammar(new MusicgateLive.Vocab(m.tokenizer), meter);
        const mask = g.allowed(g.start(ids));
        return Array.from(mask).flatMap((x, i) => x ? [i] : []);
    })""", [[n, ids, meter] for n, ids in cases for meter in (True, False)])
    assert len(js) == 2 * len(cases) > 100
    for (name, ids), meter, got in zip([c for c in cases for _ in (0, 1)], [True, False] * len(cases), js):
        tok = site["models"][name][1]
        grammar = MelodyGrammar(tok, meter=meter)
        want = np.flatnonzero(grammar.allowed(grammar.start(1, np.array([ids])))[0]).tolist()
        assert got == want, (name, meter, [tok.vocab[i] for i in ids[-6:]])


def test_repeats_are_played_as_python_plays_them(page):
    from musicgate.music.notes import form_spans

    rng = np.random.default_rng(5)
    kinds = ["|", "|", "|", "|:", ":|", "|1", "|2", "||"]
    cases = []
    for _ in range(300):
        beats = np.cumsum(rng.integers(1, 4, rng.integers(0, 12))).astype(float).tolist()
        cases.append([[b, str(rng.choice(kinds))] for b in beats])
    js = page.evaluate("""(cases) => cases.map(bars => MusicgateLive.formSpans(
        bars.map(([beat, kind]) => ({beat, kind})), 20))""", cases)
    for bars, got in zip(cases, js):
        assert got == [list(s) for s in form_spans([tuple(b) for b in bars], 20.0)], bars


# -- sampling ----------------------------------------------------------------------------------
def test_a_seed_gives_the_same_tune(page, site):
    name = _real(site)
    tunes = page.evaluate("""(name) => [3, 3, 4].map(seed => MusicgateLive.generate(
        {model: name, key: 'A minor', temperature: 0.9, seed, maxNotes: 40}).ids)""", name)
    assert tunes[0] == tunes[1] and tunes[0] != tunes[2]


def test_a_tune_decodes_in_python_with_its_bars(page, site):
    from musicgate.generation.api import octave_shift
    from musicgate.generation.sample import grammar_for
    from musicgate.nn.models import trace_gates
    from musicgate.viz.gates import per_note

    name = _real(site)
    model, tok = site["models"][name]
    shifts = []
    for key, seed in (("D major", 0), ("G mixolydian", 1), ("E minor", 2), ("G major", 3), ("A minor", 4)):
        tune = page.evaluate("""([name, key, seed]) => { const t = MusicgateLive.generate(
            {model: name, key, temperature: 1, seed, maxNotes: 48}); return {ids: t.ids, notes: t.notes, bars: t.bars,
            key: t.key, noteKeep: t.noteKeep, units: t.units, plannedBars: t.plannedBars, octaveShift: t.octaveShift}; }""",
            [name, key, seed])
        ids = np.array(tune["ids"])
        assert ids[-1] == tok.eos_id and follows_grammar(tok, ids, 48)
        written = tok.decode(ids)  # moved into the training tunes' register by octaves, as generate moves it
        assert tune["octaveShift"] == octave_shift(written, REGISTER, tok.pitch_range)
        notes = written.transpose(tune["octaveShift"])
        assert len(notes) <= 48 and tok.key_of(ids) == parse_key(key)
        lines = int(np.isin(ids, tok.barline_ids).sum())   # under 32 notes only in the last planned bar
        assert len(notes) >= 32 or (tune["plannedBars"] is not None and lines >= tune["plannedBars"] - 1)
        assert notes.bars and [round(b, 6) for b, _ in notes.bars] == [round(b["beat"], 6) for b in tune["bars"]]
        assert [k for _, k in notes.bars] == [b["kind"] for b in tune["bars"]]
        assert notes.pitch.tolist() == [n["pitch"] for n in tune["notes"]]
        assert np.allclose(notes.onset, [n["onset"] for n in tune["notes"]])
        assert np.allclose(notes.duration, [n["duration"] for n in tune["notes"]])
        assert tok.bar_fill(ids)[0] == tok.bar_fill(ids)[1]  # every whole bar filled exactly
        # the gate view's columns: the gallery's per-note update gate (GRU) of the drawn units
        plan = None if tune["plannedBars"] is None else torch.tensor([tune["plannedBars"]])
        trace = trace_gates(model, ids[None].astype(np.int64), plan=plan)  # the plan the page used
        want = per_note(trace.update_gate[-1, 0], tok.note_index(ids), how="mean")[:, tune["units"]]
        assert np.abs(np.array(tune["noteKeep"]) - want).max() <= 1e-4
        shifts.append(tune["octaveShift"])
    assert any(shifts)  # the shipped model writes some tunes an octave away from the folk register


REGISTER = 70.0  # the folk corpus's: the median of its training tunes' median pitches


def test_the_octave_shift_equals_pythons(page, site):
    from musicgate.generation.api import octave_shift
    from musicgate.music.notes import Notes

    rng = np.random.default_rng(0)
    cases = []
    for _ in range(200):
        n = int(rng.integers(1, 30))
        pitch = (int(rng.integers(30, 95)) + rng.integers(-7, 8, size=n)).clip(21, 108).tolist()
        cases.append([pitch, float(rng.choice([60, 69.5, 70, 75])), [int(rng.integers(21, 40)), int(rng.integers(90, 109))]])
    got = page.evaluate("(cases) => cases.map(([p, r, range]) => MusicgateLive.octaveShift(p, r, range))", cases)
    want = [octave_shift(Notes.from_arrays(p, np.arange(len(p)), [1.0] * len(p)), r, tuple(rng_)) for p, r, rng_ in cases]
    assert got == want and len(set(want)) >= 3
    name = _real(site)
    assert page.evaluate("(name) => MusicgateLive.loadModels([name]).models[name].register", name) == REGISTER


def test_max_run_caps_one_pitch_in_a_row_as_python_does(page, site):
    from musicgate.generation.api import DEFAULT_MAX_RUN

    name = _real(site)
    tok = site["models"][name][1]
    assert page.evaluate("() => MusicgateLive.DEFAULT_MAX_RUN") == DEFAULT_MAX_RUN
    runs = page.evaluate("""(name) => [null, 1, 2, undefined].map(maxRun => [0, 1, 2, 3, 4, 5].map(seed => {
        const t = MusicgateLive.generate({model: name, key: 'D major', temperature: 1.5, minP: 0, seed, maxNotes: 48,
                                          maxRun}); return [t.maxRun, t.ids]; }))""", name)
    longest = []
    for group in runs:
        got = []
        for limit, ids in group:
            p = tok.pitch_of[np.array(ids)[tok.note_starts()[np.array(ids)]]]
            got.append(max(len(list(g)) for _, g in itertools.groupby(p.tolist())))
        longest.append((group[0][0], max(got)))
    (free, most), one, two, default = longest
    assert free is None and most >= 2  # without a cap the little model repeats pitches
    assert one == (1, 1) and two[0] == 2 and two[1] <= 2 and default[0] == DEFAULT_MAX_RUN
    errors = page.evaluate("""(name) => [0, 2.5, -1, '3'].map(maxRun => { try {
        MusicgateLive.generate({model: name, key: 'D major', temperature: 1, maxRun}); return null; }
        catch (e) { return e.message; } })""", name)
    assert all(e and e.startswith("maxRun must be a whole number >= 1") for e in errors), errors


def test_the_api_refuses_bad_settings_and_the_controls_cannot_make_them(page, site):
    name = _real(site)
    errors = page.evaluate("""(name) => [
        {model: name, key: 'H major', temperature: 1}, {model: name, key: 'D major', temperature: 0},
        {model: name, key: 'D major', temperature: -1}, {model: name, key: 'D major', temperature: NaN},
        {model: 'nope', key: 'D major', temperature: 1},
        {model: name, key: 'D major', temperature: 1, minP: 1}, {model: name, key: 'D major', temperature: 1, minP: -0.5}
        ].map(o => {
            try { MusicgateLive.generate(o); return null; } catch (e) { return e.message; } })""", name)
    assert errors[0].startswith('unknown key "H major"') and "D major" in errors[0]
    assert all(e and e.startswith("temperature must be a finite number > 0") for e in errors[1:4]), errors
    assert errors[4].startswith('unknown model "nope"')
    assert all(e and e.startswith("minP must be a number in [0, 1)") for e in errors[5:7]), errors
    # min-p in the page's draw keeps exactly the tokens Python's sampler keeps
    import torch

    from musicgate.generation.sample import _filter_logits

    rng = np.random.default_rng(0)
    logits, mask = rng.normal(0, 2, 40), rng.random(40) < 0.7
    exempt = int(np.flatnonzero(mask)[np.argmin(logits[mask])])  # the least likely allowed token, as EOS often is
    logits[exempt] = logits[mask].max() - 3.0  # unlikely enough for min-p 0.2 and 0.5, likely enough to be drawn
    for temperature, min_p in ((1.0, 0.2), (0.7, 0.05), (1.3, 0.5)):
        drawn = set(page.evaluate("""([logits, mask, T, m, exempt]) => { const r = MusicgateLive.mulberry32(7), out = [];
            for (let i = 0; i < 3000; i++) out.push(MusicgateLive.draw(logits, mask, T, r, m, exempt)); return out; }""",
                                  [logits.tolist(), mask.astype(int).tolist(), temperature, min_p, exempt]))
        assert exempt in drawn
        x = torch.tensor(np.where(mask, logits, -np.inf))[None]
        kept = set(np.flatnonzero(torch.isfinite(_filter_logits(x, temperature=temperature, top_k=None, top_p=None,
                                                                min_p=min_p, min_p_exempt=exempt))[0].numpy()).tolist())
        assert drawn == kept, (temperature, min_p)
    controls = page.evaluate("""() => ({min: Number(document.getElementById('live-temperature').min),
        keys: [...document.getElementById('live-key').options].map(o => o.value),
        models: [...document.getElementById('live-model').options].map(o => o.value)})""")
    assert controls["min"] > 0 and set(controls["models"]) == set(site["models"])
    tok = site["models"]["tiny-rnn"][1]
    assert set(controls["keys"]) == {tok._keys[i].name for i in range(tok.key_unknown_id - tok.key_base)}


# -- the page in use ---------------------------------------------------------------------------
def test_generate_draws_plays_and_shows_the_gates(browser, site, tmp_path):
    name = _real(site)
    p = browser.open(site["page"])
    try:
        p.select_option("#live-model", name)
        p.select_option("#live-key", "G major")
        ask = """(name, seed) => MusicgateLive.panelOptions(name, 'G major',
            Number(document.getElementById('live-temperature').value), seed, document.getElementById('live-bars').value)"""
        seed = p.evaluate(f"""(name) => {{ const ask = {ask}; for (let seed = 0; seed < 60; seed++) {{
            const t = MusicgateLive.generate(ask(name, seed));  // as the panel asks (its bar plan, its cut)
            const pickup = Math.min(...t.notes.map(n => n.onset)) > 0;  // silence before the first note
            if (t.bars.some(b => b.kind === ':|') && pickup) return seed; }} return -1; }}""", name)
        assert seed >= 0, "no tune with a repeat and a pickup in 60 seeds"
        p.fill("#live-seed", str(seed))
        p.click("#live-generate")
        p.wait_for_function("() => MusicgateLive.state().schedule.length > 0", timeout=15000)
        p.wait_for_timeout(2500)  # a few notes played and drawn
        state = p.evaluate("() => MusicgateLive.state()")
        levels = p.evaluate("""async () => { const out = [];
            for (let i = 0; i < 5; i++) { out.push(MusicgateLive.level()); await new Promise(r => setTimeout(r, 100)); }
            return out; }""")
        tune = p.evaluate(f"([name, seed]) => MusicgateLive.generate(({ask})(name, seed))", [name, seed])
        shot = tmp_path / "live.png"
        p.screenshot(path=str(shot), full_page=True)
        ink = p.evaluate("""() => ['live-roll', 'live-gates'].map(id => { const c = document.getElementById(id);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })""")
        errors = list(p.errors)
    finally:
        p.close()
    assert errors == []
    assert state["audio"] == "running" and state["messages"] == []
    assert max(levels) > 0.01, levels  # the instrument is sounding
    schedule = state["schedule"]
    played = site["models"][name][1].decode(tune["ids"]).played().transpose(tune["octaveShift"])  # as recorded
    assert ":|" in [b["kind"] for b in tune["bars"]] and len(played) > len(tune["notes"]) >= 32
    assert len(schedule) == len(played)
    first = played.onset[0]
    assert first > 0 and schedule[0]["when"] == 0  # the sound starts at once: the pickup's silence is left out
    for s, pitch, onset, duration in zip(schedule, played.pitch, played.onset, played.duration):
        # what is heard: the tune's pitches at its times (120 beats a minute) from its first note, repeats played
        assert abs(s["sample"] + 12 * math.log2(s["rate"]) - pitch) < 1e-3 and abs(s["sample"] - pitch) <= 3
        assert s["when"] == pytest.approx((onset - first) * 0.5) and s["duration"] == pytest.approx(duration * 0.5)
    assert min(ink) > 2000
    assert shot.is_file() and shot.stat().st_size > 20_000


FIT = """() => { const panel = document.getElementById('live-panel'), css = getComputedStyle(panel);
    const inner = panel.getBoundingClientRect().right - parseFloat(css.borderRightWidth) - parseFloat(css.paddingRight);
    return {over: Math.max(...['live-roll', 'live-gates'].map(id => document.getElementById(id).getBoundingClientRect().right - inner)),
            scroll: document.documentElement.scrollWidth}; }"""
"""How far the pictures reach past the panel's content (<= 0: inside), and the page's width."""
TEXTS = """(() => {  // every text written on a canvas (not turned), where it lies in CSS pixels
  const fill = CanvasRenderingContext2D.prototype.fillText;
  window.canvasTexts = [];
  CanvasRenderingContext2D.prototype.fillText = function (s, x, y) {
    const m = this.getTransform(), r = window.devicePixelRatio || 1, w = this.measureText(s).width;
    if (m.b === 0) window.canvasTexts.push({id: this.canvas.id, s: String(s), left: (m.e + x * m.a) / r,
      right: (m.e + (x + w) * m.a) / r, y: (m.f + y * m.d) / r, width: this.canvas.width / r});
    return fill.call(this, s, x, y);
  };
})();"""
CLASHES = """() => { const ts = window.canvasTexts, out = [];
    for (const t of ts) if (t.left < 0 || t.right > t.width + 0.5) out.push(`${t.id}: "${t.s}" runs off the canvas`);
    ts.forEach((a, i) => ts.slice(i + 1).forEach(b => { if (a.id === b.id && Math.abs(a.y - b.y) < 10 &&
        a.left < b.right - 1 && b.left < a.right - 1) out.push(`${a.id}: "${a.s}" overlaps "${b.s}"`); }));
    return out; }"""
"""The texts of one drawing (canvasTexts emptied before it) that leave their canvas or overlap another."""
PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def test_the_pictures_fit_the_panel_on_a_phone_and_follow_the_window(browser, site):
    p = browser.open(site["page"], TEXTS)
    try:
        wide = p.evaluate(FIT)  # the first tune, drawn when the page opened (1300 px)
        p.set_viewport_size({"width": 390, "height": 800})  # a phone, or a window made narrow
        p.wait_for_timeout(300)
        narrowed = p.evaluate(FIT)
        p.select_option("#live-model", FORM)
        p.select_option("#live-meter", "9/8")
        p.select_option("#live-bars", "32")
        seed = p.evaluate("""(name) => { for (let seed = 0; seed < 60; seed++) {  // signs such as ':| |2' at the very end
            const t = MusicgateLive.generate(MusicgateLive.panelOptions(name, 'D major', 1, seed, '32', '9/8'));
            const end = t.bars.filter(b => b.beat >= t.end - 1e-9 && b.kind !== '|');
            if (end.map(b => b.kind).join(' ').length >= 4) return seed; } return -1; }""", FORM)
        assert seed >= 0, "no tune ending on two signs in 60 seeds"
        p.fill("#live-seed", str(seed))
        p.click("#live-generate")
        p.wait_for_function("() => MusicgateLive.state().playing", timeout=15000)
        p.wait_for_timeout(300)
        playing = p.evaluate(FIT)
        p.evaluate("() => { window.canvasTexts = []; document.getElementById('live-stop').click(); }")  # drawn once, whole
        clashes = p.evaluate(CLASHES)
        drawn = p.evaluate("() => window.canvasTexts.filter(t => t.id === 'live-roll').map(t => t.s)")
        p.click("#live-abc summary")  # the ABC text: its long lines scroll in its box, not the page
        opened = p.evaluate(FIT)
        errors = list(p.errors)
    finally:
        p.close()
    assert wide["over"] <= 0.5, wide  # the canvas as wide as the panel's content, its padding left out
    assert narrowed["over"] <= 0.5 and narrowed["scroll"] <= 390, narrowed  # drawn again for the narrow window
    assert playing["over"] <= 0.5 and playing["scroll"] <= 390 and opened["scroll"] <= 390, (playing, opened)
    assert clashes == [], clashes  # axis labels, bar numbers and repeat signs inside the canvas, none on another
    assert "bar" in drawn and not any("written" in s or "key signature" in s for s in drawn)  # the words are HTML now
    assert errors == []


def test_the_roll_names_the_lowest_and_the_highest_note(browser, site):
    name = _real(site)
    p = browser.open(site["page"], TEXTS)
    try:
        p.select_option("#live-model", name)
        found = p.evaluate("""(name) => { for (let seed = 0; seed < 60; seed++) {  // neither the lowest nor the highest a C
            const o = MusicgateLive.panelOptions(name, 'D major', 1, seed, document.getElementById('live-bars').value, '');
            const ps = MusicgateLive.generate(o).notes.map(n => n.pitch), lo = Math.min(...ps), hi = Math.max(...ps);
            if (hi - lo >= 5 && lo % 12 && hi % 12) return {seed, lo, hi}; } return null; }""",
                           name)
        assert found, "no tune in 60 seeds whose lowest and highest notes are not C's"
        p.fill("#live-seed", str(found["seed"]))
        p.evaluate("() => { delete window.AudioContext; delete window.webkitAudioContext; }")  # drawn once, not played
        p.evaluate("() => { window.canvasTexts = []; document.getElementById('live-generate').click(); }")
        drawn = p.evaluate("""() => window.canvasTexts.filter(t => t.id === 'live-roll' && !/^[0-9]+$|[|:]/.test(t.s))
            .map(t => t.s)""")  # bar numbers, repeat signs and endings left out
    finally:
        p.close()
    names = [f"{PITCH_NAMES[q % 12]}{q // 12 - 1}" for q in (found["lo"], found["hi"])]
    assert set(names) <= set(drawn), (drawn, names)  # beside the C's
    assert set(drawn) - set(names) <= {"bar"} | {f"C{octave}" for octave in range(9)}, drawn


def test_the_summary_line_is_text_above_the_roll_and_says_how_the_plan_went(browser, site):
    p = browser.open(site["page"])
    try:
        p.select_option("#live-model", CORPUS)
        found = p.evaluate("""(name) => { for (let seed = 0; seed < 60; seed++) {  // as the panel asks
            const t = MusicgateLive.generate(MusicgateLive.panelOptions(name, document.getElementById('live-key').value, 1,
                                                                        seed, 'corpus', ''));
            const places = new Set(t.bars.map(b => b.beat)).size;  // bar lines drawn: one per position
            if (t.planRead > t.plannedBars && places < t.barLines) return {seed, planned: t.plannedBars, read: t.planRead,
                lines: t.barLines, places, plain: MusicgateLive.summary(Object.assign({}, t, {planRead: t.plannedBars,
                                                                                              barLines: places}))};
            } return null; }""", CORPUS)
        assert found, "no tune in 60 seeds whose plan was stretched and with two signs at one place"
        p.fill("#live-seed", str(found["seed"]))
        p.click("#live-generate")
        p.wait_for_timeout(300)
        text, label = p.inner_text("#live-summary"), p.get_attribute("#live-roll", "aria-label")
        title, gates = p.inner_text("#live-gates-title"), p.get_attribute("#live-gates", "aria-label")
        legend = p.inner_text("#live-legend")
        order = p.evaluate("() => [...document.getElementById('live-panel').children].map(e => e.id)")
        errors = list(p.errors)
    finally:
        p.close()
    assert text == label
    assert (f", {found['planned']} bars planned (drawn from the corpus), stretched to {found['read']} (the first part "
            "ran past half of it), ") in text, text
    assert f", {found['lines']} bar lines written ({found['places']} places: two signs at one place, such as " in text
    assert "stretched" not in found["plain"] and "places" not in found["plain"]  # said only when it happens
    assert order.index("live-summary") < order.index("live-roll") < order.index("live-gates-title") < order.index("live-gates")
    assert "in the key signature" in legend and "outside it" in legend
    assert title.startswith("The forget gate f of the ") and "0 erase" in title and "1 keep" in title
    assert gates.startswith("The forget gate f of ") and "one row per unit and one column per note" in gates
    assert "dark (near 1): the unit keeps its memory" in gates and errors == []


def test_stop_stops_the_sound_and_the_pictures(browser, site):
    p = browser.open(site["page"])
    try:
        p.select_option("#live-model", FORM)
        p.select_option("#live-bars", "32")  # a long tune
        idle = p.evaluate("() => [document.getElementById('live-stop').disabled, MusicgateLive.state().playing]")
        p.click("#live-generate")
        p.wait_for_function("() => MusicgateLive.state().playing", timeout=15000)
        p.wait_for_timeout(800)
        levels = """async () => { const out = [];
            for (let i = 0; i < 5; i++) { out.push(MusicgateLive.level()); await new Promise(r => setTimeout(r, 100)); }
            return out; }"""
        sounding = p.evaluate(levels)
        p.focus("#live-play")
        p.keyboard.press("Tab")  # from Play again to Stop
        focused = p.evaluate("() => document.activeElement.id")
        p.keyboard.press("Enter")
        p.wait_for_timeout(300)
        silent = p.evaluate(levels)
        after = p.evaluate("""() => [MusicgateLive.state().playing, document.getElementById('live-stop').disabled,
                                     document.getElementById('live-roll').toDataURL()]""")
        p.wait_for_timeout(300)
        later = p.evaluate("() => document.getElementById('live-roll').toDataURL()")
        p.evaluate("() => window.dispatchEvent(new Event('resize'))")  # drawn again, the whole tune
        whole = p.evaluate("() => document.getElementById('live-roll').toDataURL()")
        errors = list(p.errors)
    finally:
        p.close()
    assert idle == [True, False]  # nothing plays: Stop is disabled
    assert max(sounding) > 0.01 and focused == "live-stop", (sounding, focused)
    assert max(silent) < 1e-4, silent  # every note stopped
    assert after[:2] == [False, True]
    assert after[2] == later == whole  # no playhead moving: the whole tune, as drawn when not playing
    assert errors == []


def test_the_seed_box_keeps_to_its_range_and_the_temperature_has_its_label(browser, site):
    p = browser.open(site["page"], "delete window.AudioContext; delete window.webkitAudioContext;")  # drawn, not played
    try:
        seeds = []
        for typed in ("1e9", "-5", "12.7"):
            p.fill("#live-seed", typed)
            p.click("#live-generate")
            seeds.append((p.input_value("#live-seed"), p.inner_text("#live-summary")))
        p.click("#live-seed")
        p.fill("#live-seed", "999999")
        p.click("#live-next")
        seeds.append((p.input_value("#live-seed"), p.inner_text("#live-summary")))
        temperature = p.evaluate("""() => { const o = document.querySelector('#live-panel output'), l = o.closest('label');
            return [l && l.textContent, l && l.control.id, o.htmlFor.value]; }""")
    finally:
        p.close()
    assert [s for s, _ in seeds] == ["999999", "0", "12", "999999"]
    assert all(line.endswith(f", seed {s})") for s, line in seeds), seeds
    assert temperature == ["Temperature 1.0", "live-temperature", "live-temperature"]


def test_the_gallery_page_s_wide_parts_fit_a_phone(browser, tmp_path):
    """The page around the panel: its figure grid, its table and its gate explanations at 390 px."""
    from musicgate.teach import page as gallery

    image = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg' width='900' height='300'/%3E"
    (tmp_path / "page.html").write_text(
        f'<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<style>{gallery.CSS}</style></head><body><dl class="gates"><dt>forget gate f (keep)</dt><dd>'
        + "what stays in memory " * 20 + f'</dd></dl><div class="figs">{gallery._figure(image, "one", "a")}'
        f'{gallery._figure(image, "two", "b")}</div>{gallery._table([])}</body></html>')
    p = browser.open(tmp_path / "page.html")
    try:
        p.set_viewport_size({"width": 390, "height": 800})
        got = p.evaluate("""() => ({scroll: document.documentElement.scrollWidth, body: document.body.clientWidth,
            dd: document.querySelector('dl.gates dd').getBoundingClientRect().width,
            table: document.querySelector('table').getBoundingClientRect().width})""")
    finally:
        p.close()
    assert got["scroll"] <= 390, got
    assert got["table"] > 390  # the table keeps its columns and scrolls in its box
    assert got["dd"] > 0.8 * got["body"], got  # the explanations under their names, the width of the page


# -- bad input: a message on the page, never a blank panel ---------------------------------------
def _message(p) -> str:
    return p.evaluate("() => [...document.querySelectorAll('#live-panel .warn')].map(e => e.innerText).join(' ')")


def test_a_page_without_its_files_says_so(browser, site, tmp_path):
    shutil.copyfile(site["page"], tmp_path / "live.html")  # the page without its live/ folder
    p = browser.open(tmp_path / "live.html")
    try:
        text = _message(p)
        assert p.is_visible("#live-message")
    finally:
        p.close()
    assert "live/ folder" in text and "missing" in text and "musicgate gallery" in text
    messages = {}
    for missing in ("sounds.js", "grammar.js", "player.js"):  # one file gone from the folder
        folder = tmp_path / missing
        shutil.copytree(site["page"].parent, folder)
        (folder / "live" / missing).unlink()
        p = browser.open(folder / "live.html")
        try:
            messages[missing] = _message(p)
        finally:
            p.close()
    assert "live/sounds.js is missing or unreadable: new tunes are drawn but cannot be played" in messages["sounds.js"]
    assert "live/model.js or live/grammar.js is missing or broken" in messages["grammar.js"]
    assert "live/ folder beside this page are missing" in messages["player.js"]


def test_a_browser_without_web_audio_says_so(browser, site):
    name = _real(site)
    p = browser.open(site["page"], "delete window.AudioContext; delete window.webkitAudioContext;")
    try:
        p.select_option("#live-model", name)
        p.click("#live-generate")
        p.wait_for_timeout(300)
        text = _message(p)
        errors = list(p.errors)
        drawn = p.evaluate("() => document.getElementById('live-roll').width > 0")
    finally:
        p.close()
    assert "no Web Audio" in text and drawn and errors == []


def test_a_model_file_that_cannot_be_parsed_says_so(browser, site, tmp_path):
    folder = tmp_path / "page"
    shutil.copytree(site["page"].parent, folder)
    good = (folder / "live" / "model-tiny-gru.js").read_text()
    (folder / "live" / "model-tiny-gru.js").write_text(good[: len(good) // 2])  # cut short: a syntax error
    lstm = folder / "live" / "model-tiny-lstm.js"
    lstm.write_text(lstm.read_text().replace('\\"data\\": \\"', '\\"data\\": \\"AAAA'))  # weights of a wrong size
    p = browser.open(folder / "live.html")
    try:
        text = _message(p)
        models = p.evaluate("() => MusicgateLive.state().models")
    finally:
        p.close()
    assert "live/model-tiny-gru.js is missing or could not be parsed" in text
    assert "live/model-tiny-lstm.js" in text and "tiny-lstm" not in models and "tiny-rnn" in models
    for name in site["models"]:
        (folder / "live" / f"model-{name}.js").write_text("window.MUSICGATE_MODELS = {")
    p = browser.open(folder / "live.html")
    try:
        text = _message(p)
    finally:
        p.close()
    assert text.startswith("No model could be loaded") and "musicgate gallery" in text


# -- the exporter ------------------------------------------------------------------------------
def assert_payload_holds(payload: dict, model) -> np.ndarray:
    """Every tensor of the model's state is in the payload, at its offset, with its values; returns
    the payload's floats."""
    data = np.frombuffer(base64.b64decode(payload["data"]), "<f4")
    state = model.state_dict()
    assert sorted(t["name"] for t in payload["tensors"]) == sorted(state)
    for t in payload["tensors"]:
        n = int(np.prod(t["shape"]))
        assert np.array_equal(data[t["offset"]:t["offset"] + n].reshape(t["shape"]), state[t["name"]].numpy())
    return data


def test_the_exporter_refuses_what_the_page_cannot_run():
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    with pytest.raises(ConfigError, match="runs only rnn, lstm, gru token models, not 'mingru'"):
        live.model_payload(RecurrentLM(vocab_size=len(tok), cell="mingru", hidden=4, layers=1), tok, name="m")
    event = make_tokenizer("event", pitch_range=(48, 84))
    with pytest.raises(ConfigError, match="only melody-vocabulary models, not one with the event vocabulary"):
        live.model_payload(RecurrentLM(vocab_size=len(event), cell="gru", hidden=4, layers=1), event, name="e")
    keyed = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=4, layers=1, key_input=[tok.key_base, 7])
    with pytest.raises(ConfigError, match="does not run models with key inputs"):
        live.model_payload(keyed, tok, name="k")
    model = tiny_model("lstm", tok, 0)
    payload = live.model_payload(model, tok, name="x")
    section = live.section_html([("x", "model-x.js")], left_out=["Not in the live panel: m: <mingru>."])
    assert "Not in the live panel: m: &lt;mingru&gt;." in section and 'src="live/model-x.js"' in section
    assert_payload_holds(payload, model)
    assert payload["keys"]["D major"] == [1, 2, 4, 6, 7, 9, 11]


def test_the_exporter_writes_the_tonic_frame_only_for_models_that_have_it():
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    framed = live.model_payload(tiny_model("gru", tok, 0, tonic=True), tok, name="t")
    plain = live.model_payload(tiny_model("gru", tok, 0), tok, name="p")
    assert framed["tonic"] == [tok.key_base, 7, tok.ids["PITCH_48"], 37] and "tonic" not in plain
    assert framed["tensors"] == plain["tensors"] and framed["data"] == plain["data"]   # it has no weights


def test_the_exporter_writes_form_inputs_only_for_models_that_have_them():
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    model = tiny_model("gru", tok, 0, form_inputs=BUCKETS)
    same = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=12, layers=2, embed=10)  # its weights, no form inputs
    same.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("form.")})
    plain = live.model_payload(same, tok, name="plain")
    assert "form" not in plain and not any(t["name"].startswith("form.") for t in plain["tensors"])
    payload = live.model_payload(model, tok, name="form")
    assert payload["form"] == {"buckets": BUCKETS, "barline_ids": tok.barline_ids.tolist()}
    data = assert_payload_holds(payload, model)
    # the weights the two models share are written as before: the form tables come after them
    assert payload["tensors"][:len(plain["tensors"])] == plain["tensors"]
    assert data[:len(np.frombuffer(base64.b64decode(plain["data"]), "<f4"))].tobytes() == base64.b64decode(plain["data"])
    assert {k: v for k, v in payload.items() if k not in ("form", "tensors", "data", "name", "dances")} == \
        {k: v for k, v in plain.items() if k not in ("tensors", "data", "name", "dances")}
    # both name the dances in their meters; the model with form inputs also has the corpus's plans of each
    assert {d: v["meter"] for d, v in payload["dances"].items()} == {d: v["meter"] for d, v in plain["dances"].items()}
    assert all("plan" not in v for v in plain["dances"].values()) and "plan" in payload["dances"]["jig"]


def test_the_exporter_writes_bar_line_counts_only_for_models_with_form_inputs(tmp_path, monkeypatch):
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    model, plain = tiny_model("gru", tok, 0, form_inputs=BUCKETS), tiny_model("gru", tok, 0)
    counts = {"19": 3, "8": 1, "16": 12, "40": 0}  # as a checkpoint's dataset.bar_lines, a count of 0 added
    payload = live.model_payload(model, tok, name="form", bar_lines=counts)
    assert payload["barLines"] == {"8": 1, "16": 12, "19": 3} and list(payload["barLines"]) == ["8", "16", "19"]
    assert {k: v for k, v in payload.items() if k != "barLines"} == live.model_payload(model, tok, name="form")
    assert "barLines" not in live.model_payload(model, tok, name="form", bar_lines=None)
    assert "barLines" not in live.model_payload(plain, tok, name="plain", bar_lines=counts)  # it plans nothing
    for bad in ({"x": 3}, {"0": 3}, {"16": -1}, {"16": 2.5}, {"16": 0}, {"16.5": 2}, [16, 17]):
        with pytest.raises(ConfigError, match=r"^form: its bar-line counts should map whole numbers of bar lines"):
            live.model_payload(model, tok, name="form", bar_lines=bad)
    # write_live takes them from load_model's meta, as the gallery passes it
    monkeypatch.setattr(live, "export_sounds", lambda path, **kw: Path(path).write_text(""))  # no instrument needed
    section = live.write_live(tmp_path, [(model, tok, {"name": "a", "dataset": {"bar_lines": counts}}),
                                         (model, tok, {"name": "b", "dataset": {}}), (model, tok, {"name": "c"})],
                              units={n: [0] for n in "abc"})
    assert section and "model-a.js" in section
    files = {n: json.loads(json.loads((tmp_path / live.LIVE / f"model-{n}.js").read_text().splitlines()[1]
                                      .split(" = ", 1)[1].rstrip(";"))) for n in "abc"}
    assert files["a"]["barLines"] == payload["barLines"] and "barLines" not in files["b"] and "barLines" not in files["c"]


def test_a_mode_the_model_rarely_saw_gets_generates_note_in_the_payload():
    from musicgate.generation.api import rare_mode_note

    tok = make_tokenizer("melody", pitch_range=(48, 84))
    model = tiny_model("gru", tok, 0)
    modes = {"major": 990, "minor": 40, "dorian": 5, "mixolydian": 9}
    payload = live.model_payload(model, tok, name="m", modes=modes)
    assert payload["modeNotes"] == {m: rare_mode_note(m, modes, "m") for m in ("dorian", "mixolydian", "lydian",
                                                                              "phrygian", "locrian")}
    assert "major" not in payload["modeNotes"] and "minor" not in payload["modeNotes"]  # 3.8% is not rare
    assert "modeNotes" not in live.model_payload(model, tok, name="m")          # counts unknown: no notes
    unseen = live.model_payload(model, tok, name="m", modes={"major": 9, "minor": 1})["modeNotes"]
    assert set(unseen) == {"dorian", "phrygian", "lydian", "mixolydian", "locrian"}   # none seen: all rare
    assert unseen["dorian"].startswith("m saw 0 dorian tunes among 10 in training")


def test_the_exporter_writes_the_register_only_when_the_checkpoint_has_one():
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    model = tiny_model("gru", tok, 0)
    assert live.model_payload(model, tok, name="m", register={"median": 69.5, "lo": 62, "hi": 77})["register"] == 69.5
    assert "register" not in live.model_payload(model, tok, name="m")


def test_the_panel_says_when_the_model_rarely_saw_the_mode(browser, site):
    from musicgate.generation.api import rare_mode_note
    from musicgate.nn.hub import load_model

    assert "folk-gru" in site["models"]   # it ships in the package
    modes = load_model("folk-gru")[2]["dataset"]["modes"]
    p = browser.open(site["page"])
    try:
        p.select_option("#live-model", "folk-gru")
        captions = {}
        for key in ("A dorian", "D major"):
            p.select_option("#live-key", key)
            p.click("#live-generate")
            p.wait_for_timeout(300)
            captions[key] = p.inner_text("#live-caption")
        direct = p.evaluate("""() => { const m = MusicgateLive.loadModels(['folk-gru']).models['folk-gru'];
            return [MusicgateLive.modeNote(m, 'E dorian'), MusicgateLive.modeNote(m, 'F# minor')]; }""")
        errors = list(p.errors)
    finally:
        p.close()
    line = rare_mode_note("dorian", modes, "folk-gru")
    assert line and captions["A dorian"].startswith(f"Note: {line}. ")
    assert not captions["D major"].startswith("Note:")
    assert direct == [line, ""] and errors == []


def test_the_exporter_writes_lookback_inputs_only_for_models_that_have_them():
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    model = tiny_model("lstm", tok, 0, form_inputs=BUCKETS, lookback=LOOK_BARS)
    same = tiny_model("lstm", tok, 0, form_inputs=BUCKETS)  # its weights, no lookback inputs
    same.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("look.")})
    plain = live.model_payload(same, tok, name="plain")
    assert "lookback" not in plain and not any(t["name"].startswith("look.") for t in plain["tensors"])
    payload = live.model_payload(model, tok, name="look")
    assert payload["lookback"] == {"bars": LOOK_BARS, "clock": tok.lookback_clock(), "span": model.look.span,
                                   "runs": False, "position": False, "copy": False}
    json.dumps(payload)  # plain JSON: the clock's ids are ints
    assert_payload_holds(payload, model)
    assert payload["tensors"][:len(plain["tensors"])] == plain["tensors"]  # the lookback tables come last
    assert [t["name"] for t in payload["tensors"][len(plain["tensors"]):]] == ["look.table.weight", "look.proj.weight"]
    assert {k: v for k, v in payload.items() if k not in ("lookback", "tensors", "data", "name")} == \
        {k: v for k, v in plain.items() if k not in ("tensors", "data", "name")}
    full = live.model_payload(tiny_model("lstm", tok, 0, form_inputs=BUCKETS, lookback=LOOK_BARS, copy=True), tok, name="c")
    assert [t["name"] for t in full["tensors"][len(plain["tensors"]):]] == [
        "look.table.weight", "look.proj.weight", "look.run_table.weight", "look.run_proj.weight", "look.pos.weight",
        "look.copy_state.weight", "look.copy_state.bias", "look.copy_run.weight"]
    assert {k: full["lookback"][k] for k in ("runs", "position", "copy", "copy_scale")} == \
        {"runs": True, "position": True, "copy": True, "copy_scale": 10.0}


def test_the_instrument_notes_sound_at_their_pitches(site):
    import io

    import librosa
    import soundfile

    text = (site["page"].parent / "live" / "sounds.js").read_text()
    sounds = json.loads(text[text.index("=") + 1:].strip().rstrip(";"))
    assert sorted(int(p) for p in sounds["notes"]) == list(live.SOUND_PITCHES)
    for pitch, data in sounds["notes"].items():
        audio, rate = soundfile.read(io.BytesIO(base64.b64decode(data)))
        assert 0.3 < np.abs(audio).max() <= 0.95 and len(audio) >= live.SOUND_SECONDS * rate
        f0 = librosa.yin(audio[int(0.1 * rate):int(0.6 * rate)], fmin=50, fmax=2500, sr=rate, frame_length=2048)
        assert abs(librosa.hz_to_midi(np.median(f0)) - int(pitch)) < 0.3, pitch


# -- the time signature ----------------------------------------------------------------------------
def test_a_meter_asked_on_the_page_fixes_the_header_and_the_bars(page, site):
    name = _real(site)
    tok = site["models"][name][1]
    tunes = page.evaluate("""(name) => ['6/8', '9/8', '3/4', undefined].map(meter => { const t = MusicgateLive.generate(
        {model: name, key: 'G major', temperature: 1, seed: 2, maxNotes: 48, meter});
        return {ids: t.ids, meter: t.meter, meterSource: t.meterSource}; })""", name)
    for asked, tune in zip(["6/8", "9/8", "3/4"], tunes):
        ids = np.array(tune["ids"])
        assert ids[2] == tok.meter_id(tuple(int(x) for x in asked.split("/")))
        assert tune["meter"] == asked and tune["meterSource"] == "given"
        notes = tok.decode(ids)
        assert notes.meter == tuple(int(x) for x in asked.split("/"))
        assert tok.bar_fill(ids)[0] == tok.bar_fill(ids)[1]  # every whole bar of the asked meter filled exactly
    assert tunes[3]["meterSource"] == "model"
    # drawn by the model, the meter is a known one (as musicgate generate draws it): little untrained models
    # (1 in 16 on METER_unknown) and the shipped one
    drawn = page.evaluate("""(names) => names.flatMap(name => [...Array(40).keys()].map(seed => MusicgateLive.generate(
        {model: name, key: 'D major', temperature: 1, seed, maxNotes: 8, minNotes: 8}).ids[2]))""",
                          [n for n in site["models"] if n != name][:2] + [name])
    assert tok.meter_unknown_id not in drawn and len(set(drawn)) > 3
    errors = page.evaluate("""(name) => ['11/8', 'jig', 7].map(meter => { try {
        MusicgateLive.generate({model: name, key: 'D major', temperature: 1, meter}); return null; }
        catch (e) { return e.message; } })""", name)
    assert all(e and e.startswith("unknown time signature") and "give one of 2/2" in e for e in errors), errors


def test_a_dance_asked_on_the_page_has_its_meter_and_the_corpus_s_plans_of_that_dance(page, site):
    from musicgate.music.meters import DANCE_PLANS, DANCES, meter_name

    tok = site["models"][CORPUS][1]
    got = page.evaluate("""(name) => [...Array(40).keys()].map(seed => { const t = MusicgateLive.generate(
        {model: name, key: 'D major', temperature: 1, seed, maxNotes: 16, bars: 'corpus', dance: 'jig'});
        return {meter: t.meter, id: t.ids[2], plan: t.plannedBars, source: t.planSource, line: MusicgateLive.summary(t)}; })""",
                        CORPUS)
    assert {g["meter"] for g in got} == {"6/8"} and {g["id"] for g in got} == {tok.meter_id((6, 8))}
    assert {g["source"] for g in got} == {"jig"} and {g["plan"] for g in got} <= set(DANCE_PLANS["jig"])
    assert len({g["plan"] for g in got}) >= 3 and "a jig in 6/8" in got[0]["line"]
    assert "drawn from the corpus's jigs" in got[0]["line"]
    by_meter = page.evaluate("""(name) => MusicgateLive.generate({model: name, key: 'D major', temperature: 1, seed: 1,
        maxNotes: 16, bars: 'corpus', meter: '6/8'}).planSource""", CORPUS)
    assert by_meter == "corpus"  # a meter alone: plans from the model's training tunes
    dances = page.evaluate("(name) => MusicgateLive.loadModels([name]).models[name].dances", CORPUS)
    assert {d: v["meter"] for d, v in dances.items()} == {d: meter_name(m) for d, m in DANCES.items()}
    plain = page.evaluate("""(name) => { const t = MusicgateLive.generate({model: name, key: 'D major', temperature: 1,
        seed: 1, maxNotes: 16, dance: 'polka'}); return [t.meter, t.plannedBars]; }""", "tiny-gru")
    assert plain == ["2/4", None]  # a model without form inputs: the dance's meter, no plan
    errors = page.evaluate("""(name) => [{dance: 'jog'}, {dance: 'jig', meter: '3/4'}].map(o => { try {
        MusicgateLive.generate(Object.assign({model: name, key: 'D major', temperature: 1}, o)); return null; }
        catch (e) { return e.message; } })""", CORPUS)
    assert errors[0].startswith('unknown dance "jog": give one of reel') and "a jig is in 6/8, not 3/4" in errors[1]


def test_the_meter_share_and_note_equal_pythons(page, site):
    from musicgate.generation.api import RARE_METER, meter_share, rare_meter_note

    name = _real(site)
    model, tok = site["models"][name]
    for key, meter in (("E minor", "12/8"), ("D major", "6/8"), ("A dorian", "9/8"), ("G major", "5/4")):
        got = page.evaluate("""([name, key, meter]) => { const m = MusicgateLive.loadModels([name]).models[name];
            return [MusicgateLive.meterShare(m, key, meter), MusicgateLive.meterNote(m, key, meter)]; }""",
                            [name, key, meter])
        want = meter_share(model, tok, parse_key(key), tuple(int(x) for x in meter.split("/")))
        assert got[0] == pytest.approx(want, abs=1e-6)
        line = rare_meter_note(model, tok, parse_key(key), tuple(int(x) for x in meter.split("/")), name)
        assert got[1] == (line or "")
    assert page.evaluate("() => MusicgateLive.RARE_METER") == RARE_METER


def test_the_panel_asks_for_the_meter_and_says_when_it_is_rare(browser, site):
    from musicgate.generation.api import rare_meter_note

    name = _real(site)
    model, tok = site["models"][name]
    p = browser.open(site["page"])
    try:
        p.select_option("#live-model", name)
        p.select_option("#live-key", "E minor")
        labels = p.evaluate("() => [...document.getElementById('live-meter').options].map(o => [o.value, o.text])")
        seen = {}
        for meter in ("12/8", "6/8", ""):
            p.select_option("#live-meter", meter)
            p.click("#live-generate")
            p.wait_for_timeout(300)
            asked = p.evaluate("""() => MusicgateLive.panelOptions(document.getElementById('live-model').value, 'E minor',
                1, Number(document.getElementById('live-seed').value), document.getElementById('live-bars').value,
                document.getElementById('live-meter').value)""")
            seen[meter] = (p.inner_text("#live-caption"), p.evaluate("(o) => MusicgateLive.generate(o).meter", asked))
        errors = list(p.errors)
    finally:
        p.close()
    assert labels[0] == ["", "as the model draws"] and ["6/8", "6/8"] in labels and ["9/8", "9/8"] in labels
    assert ["dance:jig", "jig (6/8)"] in labels and ["dance:reel", "reel (2/2)"] in labels
    line = rare_meter_note(model, tok, parse_key("E minor"), (12, 8), name)
    assert line and seen["12/8"][0].startswith(f"Note: {line}. ") and seen["12/8"][1] == "12/8"
    assert not seen["6/8"][0].startswith("Note:") and seen["6/8"][1] == "6/8"
    assert not seen[""][0].startswith("Note:")
    assert errors == []


def test_a_first_part_past_half_the_plan_stretches_it_as_python_does(page, site):
    """A scripted model (the form model's step, its logits replaced): whole-bar notes, a :| at the fifth bar
    line, then an eager end. The page stretches a plan of 6 to 10 when the first part closes (as
    sample._stretch does), leaves a plan of 20, and holds the end until the second part has three bars."""
    tok = site["models"][FORM][1]
    got = page.evaluate("""([name, ids]) => [6, 20].map(bars => {
        const m = MusicgateLive.loadModels([name]).models[name];
        const step = m.step.bind(m), totals = [];
        let lines = 0;
        m.step = (t, state) => {
            totals.push(state.form.total);
            const out = step(t, state);
            if (ids.bars.includes(t)) lines += 1;
            const x = new Float32Array(out.logits.length).fill(-30);
            x[ids.meter] = 100; x[ids.pitch] = 50; x[ids.dur] = 50; x[ids.bar] = 20;
            if (lines === 4) x[ids.end] = 30;
            if (lines >= 6) x[ids.eos] = 60;
            return Object.assign({}, out, {logits: x});
        };
        const t = MusicgateLive.sampleTune(m, {key: 'D major', seed: 1, maxNotes: 100, minNotes: 1, bars, minP: 0, maxRun: null, maxLoop: null});
        return {ids: t.ids, totals};
    })""", [FORM, {"bars": [int(i) for i in tok.barline_ids], "meter": tok.meter_id((4, 4)),
                   "pitch": tok.ids["PITCH_62"], "dur": tok.ids["DUR_48"], "bar": tok.bar_id,
                   "end": tok.ids["REPEAT_END"], "eos": tok.eos_id}])
    for plan, run in zip((6, 20), got):
        words = [tok.vocab[t] for t in run["ids"]]
        close = words.index("REPEAT_END")
        second = words[close + 1:]
        assert second == ["PITCH_62", "DUR_48", "BAR", "PITCH_62", "DUR_48", "BAR", "EOS"]
        # the plan each token was read with: BOS and KEY first with none (the model draws the meter first),
        # then from BOS again (token i, step i + 2): 6 before the :|, 10 from it (five bar lines, twice)
        want = [-1, -1] + [plan] * close + [10 if plan == 6 else plan] * (len(run["totals"]) - 2 - close)
        assert run["totals"] == want


def test_max_loop_stops_a_passage_as_python_does(page, site):
    """A scripted model (the form model's step, its logits replaced) that plays D-E | F#-G forever: the page
    and Python's sampler write the same tokens, the passage never more than maxLoop times in a row."""
    from musicgate.generation.api import DEFAULT_MAX_LOOP
    from musicgate.generation.sample import sample

    tok = site["models"][FORM][1]
    ids = {"meter": tok.meter_id((4, 4)), "dur": tok.ids["DUR_24"], "bar": tok.bar_id, "second": tok.ids["PITCH_69"],
           "pattern": [tok.ids[f"PITCH_{p}"] for p in (62, 64, 66, 67)], "pitches": np.flatnonzero(tok.pitch_of >= 0).tolist()}
    assert page.evaluate("() => MusicgateLive.DEFAULT_MAX_LOOP") == DEFAULT_MAX_LOOP
    js = page.evaluate("""([name, ids]) => [undefined, 3, null].map(maxLoop => {
        const m = MusicgateLive.loadModels([name]).models[name];
        const step = m.step.bind(m), pitches = new Set(ids.pitches);
        let notes = 0;
        m.step = (t, state) => {
            const out = step(t, state);
            if (pitches.has(t)) notes += 1;
            const x = new Float32Array(out.logits.length).fill(-5);
            x[ids.meter] = 50; x[ids.dur] = 20; x[ids.bar] = 20; x[ids.second] = 10; x[ids.pattern[notes % 4]] = 30;
            return Object.assign({}, out, {logits: x});
        };
        return MusicgateLive.sampleTune(m, {key: 'D major', seed: 0, maxNotes: 40, minNotes: 40, bars: 12, maxRun: null,
                                             maxLoop}).ids; })""", [FORM, ids])

    class Looper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))
            self.has_form_inputs, self.is_pitch = True, torch.as_tensor(tok.pitch_of >= 0)

        def _logits(self, notes):
            x = torch.full((len(notes), len(tok)), -5.0)
            x[:, ids["meter"]] = 50.0
            x[:, ids["dur"]] = x[:, ids["bar"]] = 20.0
            x[:, ids["second"]] = 10.0
            x[torch.arange(len(notes)), torch.as_tensor(ids["pattern"])[notes.long() % 4]] = 30.0
            return x

        def forward(self, x, state=None, plan=None):
            notes = self.is_pitch[x].sum(1).float()
            return self._logits(notes)[:, None].expand(-1, x.shape[1], -1), notes.reshape(1, -1, 1)

        def step(self, token, state):
            notes = state + self.is_pitch[token].reshape(1, -1, 1).float()
            return self._logits(notes[0, :, 0]), notes

        def replan(self, state, rows, totals):
            return state

    for limit, got in zip((DEFAULT_MAX_LOOP, 3, None), js):
        (want,) = sample(Looper(), tok, keys=[Key(2)], length=40, exact=True, seed=0, bars=12, max_loop=limit)
        assert got == want.tolist(), limit
        bars = [b for b in " ".join(tok.vocab[t] for t in got if tok.pitch_of[t] >= 0 or t in tok.barline_ids)
                .split("BAR") if b.strip()]
        most = max(k for n in range(1, 5) for start in range(len(bars)) for k in range(1, 40)
                   if all(bars[start + j * n:start + (j + 1) * n] == bars[start:start + n] and start + (j + 1) * n <= len(bars)
                          for j in range(k)))
        assert most == (limit or most) and (limit is not None or most >= 8), (limit, most)
    errors = page.evaluate("""(name) => [1, 2.5, '3'].map(maxLoop => { try {
        MusicgateLive.generate({model: name, key: 'D major', temperature: 1, maxLoop}); return null; }
        catch (e) { return e.message; } })""", FORM)
    assert all(e and e.startswith("maxLoop must be a whole number >= 2") for e in errors), errors


def test_a_repeat_sign_after_the_last_note_decodes_as_python_decodes_it(page, site):
    """A |: with no note after it (the models learned O'Neill's |:|) is the final bar line, in both decoders."""
    tok = site["models"][FORM][1]
    w = lambda *names: [tok.ids[n] for n in names]  # noqa: E731
    head = [tok.bos_id, tok.key_id(Key(2)), tok.meter_id((2, 4))]
    bar = w("PITCH_62", "DUR_24")
    for tail in (w("PART_END", "REPEAT_START"), w("REPEAT_START"), w("REPEAT_END", "REPEAT_START")):
        ids = head + w("REPEAT_START") + bar + w("BAR") + bar + tail + [tok.eos_id]
        js = page.evaluate("""([name, ids]) => { const m = MusicgateLive.loadModels([name]).models[name];
            return MusicgateLive.decode(new MusicgateLive.Vocab(m.tokenizer), ids).bars; }""", [FORM, ids])
        want = tok.decode(np.array(ids)).bars
        assert [(b["beat"], b["kind"]) for b in js] == [(float(b), k) for b, k in want]
        assert want[0][1] == "|:" and want[-1][1] == "||" and "|:" not in [k for _, k in want[1:]]
