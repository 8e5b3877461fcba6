"""The classroom gallery and ``musicgate demo``: files, numbers, sentences, and a real browser.

The browser test opens the page from file:// in Debian's chromium (driven by Playwright when it
is installed, else by ``chromium --headless --dump-dom`` on a copy of the page with a checking
script). Without chromium it fails in CI (``CI=true``) and skips elsewhere, saying why.
"""
from __future__ import annotations

import html.parser
import importlib
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
from musicgate.cli import main
from musicgate.errors import CheckpointError, ConfigError
from musicgate.teach.gallery import build_gallery
from musicgate.teach.text import CellNumbers, comparison_sentences, mean_ci
from musicgate.music.keys import in_signature_rate
from musicgate.music.midi import read_midi
from musicgate.nn.models import RecurrentLM
from musicgate.tokens.tokenizer import make_tokenizer

gen = importlib.import_module("musicgate.generation.api")
hub = importlib.import_module("musicgate.nn.hub")
CHROMIUM = os.environ.get("MUSICGATE_CHROMIUM", "/usr/bin/chromium")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KEYS = ("D major", "G mixolydian")
NLL = {"rnn": 2.9, "lstm": 2.4, "gru": 2.5}


def tiny_models(folder: Path) -> list[str]:
    """Three untrained 16-unit melody models with a models.json beside them (as export writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer("melody", pitch_range=(48, 84), form=False)  # the shipped models' vocabulary
    index, paths = {}, []
    for i, cell in enumerate(("rnn", "lstm", "gru")):
        torch.manual_seed(i)
        model = RecurrentLM(vocab_size=len(tok), cell=cell, hidden=16, layers=1)
        payload = make_checkpoint(model=model, config={"model": {"cell": cell}}, tokenizer=tok,
                                  dataset={"name": "test"}, step=0, best_val_loss=None)
        paths.append(str(save_checkpoint(payload, folder / f"folk-{cell}.pt")))
        index[f"folk-{cell}"] = {"cell": cell, "params": sum(p.numel() for p in model.parameters()),
                                 "valid_nll_per_note": NLL[cell]}
    (folder / "models.json").write_text(json.dumps(index))
    return paths


def tiny_speech_run(folder: Path) -> Path:
    """A small GRU speech run trained here on tone-burst "digits" (tests/speechclips.py), as the README's
    ``musicgate speech train`` writes it."""
    from speechclips import make_fsdd

    from musicgate.speech.run import train_run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fsdd = make_fsdd(folder / "fsdd", takes=6)
        train_run(f"fsdd:{fsdd}", output=folder / "run", cell="gru", hidden=12, epochs=4, lr=0.01, batch_size=8)
    finally:
        torch.set_num_threads(threads)
    return folder / "run"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gallery")
    models = tiny_models(folder / "models")
    speech = tiny_speech_run(folder / "speech")
    index = build_gallery(folder / "out", models=models, keys=KEYS, length=24, num=3, seed=5, speech=speech,
                          quiet=True)
    return index


class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append(value)


def page_refs(index: Path) -> tuple[list[str], list[str]]:
    parser = _Refs()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser.refs, parser.tags


# -- the page and its files --------------------------------------------------------------------
def test_every_referenced_file_exists_and_nothing_is_fetched(gallery):
    from urllib.parse import unquote

    refs, tags = page_refs(gallery)
    assert tags.count("script") == sum(r.startswith("live/") and r.endswith(".js") for r in refs) >= 5  # the live panel's
    local = [r for r in refs if not r.startswith("#")]
    assert local and all(not re.match(r"^[a-z]+:", r) and not r.startswith("/") for r in local), local
    for ref in local:
        assert (gallery.parent / unquote(ref)).is_file(), ref
    suffixes = {Path(r).suffix for r in local}
    assert {".wav", ".mid", ".musicxml", ".abc", ".png"} <= suffixes
    for ref in (r for r in local if r.endswith(".abc")):  # each tune's ABC reads back to its MIDI's notes
        from musicgate.music.abc import read_abc
        from musicgate.music.midi import read_midi

        written = read_abc((gallery.parent / unquote(ref)).read_text()).notes.played()
        played = read_midi(gallery.parent / unquote(ref).replace(".abc", ".mid"))
        assert written.pitch.tolist() == played.pitch.tolist(), ref
    # one player, one roll and one gate view per model and key, one key-keeper picture per model
    tunes = [r for r in refs if r.endswith(".wav") and not r.startswith("media/speech_")]
    assert len(tunes) == 2 * 3 * len(KEYS)  # <audio src> + the WAV link
    assert tags.count("audio") == 3 * len(KEYS) + 2  # and the two speech clips
    assert sum(r.endswith("_keykeeper.png") for r in refs) == 2 * 3  # <img src> + its link
    tune_gates = [r for r in refs if r.endswith("_gates.png") and not r.startswith("media/speech_")]
    assert len(tune_gates) == 2 * (3 * len(KEYS) + 3)  # per tune + once per cell where the gates are explained


def test_the_page_reads_plain_words_first(gallery):
    """Each section opens with what to look at; the researcher numbers sit in folds."""
    text = gallery.read_text(encoding="utf-8")
    body = re.sub(r"<details>.*?</details>", "", text, flags=re.S)  # what a reader sees before opening a fold
    for word in ("NLL", "nats", "95%", "half-life", "Karpathy", "t½"):
        assert word not in body, word
    assert "95%" in text and "nats per note" in text  # ... and the numbers are still on the page, folded
    for section in ("listen", "gates", "keepers", "speech", "numbers"):
        assert f'<section id="{section}">' in text
    assert text.count('<p class="look">') >= 4
    # each gate explained once, with the keep gate labelled
    from musicgate.teach.text import GATE_WORDS

    for words in (GATE_WORDS["forget_gate"], GATE_WORDS["input_gate"], GATE_WORDS["output_gate"],
                  GATE_WORDS["reset_gate"], GATE_WORDS["update_gate"]):
        assert text.count(html_escape(words)) == 1, words
    assert "<dt>forget gate f (keep)</dt>" in text and "<dt>update gate z (keep)</dt>" in text


def test_the_speech_part_shows_a_clip_its_gates_and_the_streamed_guess(gallery):
    from musicgate.speech.run import predict_file

    record = json.loads((gallery.parent / "gallery.json").read_text())
    speech = record["speech"]
    assert speech["cell"] == "gru" and 0 <= speech["accuracy"] <= 1 and speech["message"] is None
    assert len(speech["clips"]) == 2
    text = gallery.read_text(encoding="utf-8")
    section = text.split('<section id="speech">')[1].split("</section>")[0]
    for clip in speech["clips"]:
        assert (gallery.parent / "media" / clip["png"]).is_file() and (gallery.parent / "media" / clip["wav"]).is_file()
        assert f'src="media/{clip["wav"]}"' in section and f'src="media/{clip["png"]}"' in section
        # the page's guess is the run's own prediction of that clip, streamed frame by frame
        pred = predict_file(speech["run"], gallery.parent / "media" / clip["wav"], stream=True)
        assert clip["label"] == pred.label and clip["probability"] == pytest.approx(pred.probability, abs=1e-4)
        changes = [label for i, (label, _) in enumerate(pred.frames) if i == 0 or pred.frames[i - 1][0] != label]
        assert [label for _, label, _ in clip["stream"]] == changes
        assert f"heard as “{clip['label']}”" in section
    # the clips are from the run's test split (takes 0), of two different digits
    assert len({c["name"].split("_")[0] for c in speech["clips"]}) == 2
    assert all(c["name"].endswith("_0.wav") for c in speech["clips"])


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_key_keepers_are_measured_and_recorded(gallery):
    record = json.loads((gallery.parent / "gallery.json").read_text())
    for model in record["models"]:
        kk = model["key_keepers"]
        assert len(kk["units"]) == 3 and len(set(kk["units"])) == 3
        assert kk["accuracy"] == sorted(kk["accuracy"], reverse=True) and 0 <= kk["accuracy"][-1] <= 1
        assert kk["chance"] == pytest.approx(1 / len(KEYS)) and kk["keys"] == list(KEYS)
        assert len(kk["by_note"]) == 24 and (gallery.parent / kk["figure"]).is_file()


def test_numbers_match_the_files(gallery):
    record = json.loads((gallery.parent / "gallery.json").read_text())
    assert len(record["samples"]) == 3 * len(KEYS)
    for sample in record["samples"]:
        notes = read_midi(gallery.parent / sample["files"]["midi"])
        # the tune heard is drawn as generate draws it: the model may end it before `length`
        assert 1 <= len(notes) == sample["notes"] <= 24
        assert sample["heard_in_signature"] == pytest.approx(in_signature_rate(notes.pitch, sample["key"]).by_count)
        assert len(sample["in_signature"]) == 3  # the study's tunes: num of them, exactly `length` notes
    by_label = {m["label"]: m for m in record["models"]}
    for cell, nll in NLL.items():
        assert by_label[f"folk-{cell}"]["nll_per_note"] == nll
        values = [v for s in record["samples"] if s["cell"] == cell for v in s["in_signature"]]
        assert by_label[f"folk-{cell}"]["in_signature"][0] == pytest.approx(np.mean(values))
    assert by_label["folk-rnn"]["median_half_life"] is None
    assert by_label["folk-lstm"]["median_half_life"] > 0


def test_the_tune_heard_is_the_one_generate_draws(gallery):
    # A class hears what a musician gets from `musicgate generate` with the same seed (the model ends the
    # tune); the numbers come from the study's tunes of exactly `length` notes, drawn plainly.
    from musicgate.generation.api import generate_run

    record = json.loads((gallery.parent / "gallery.json").read_text())
    for i, sample in enumerate(record["samples"][:len(KEYS)]):  # the first model, each key
        run = generate_run(record["settings"]["models"][0], key=sample["key"], length=24, seed=5 + i)
        heard = read_midi(gallery.parent / sample["files"]["midi"])
        assert run.notes[0].pitch.tolist() == heard.pitch.tolist()
        study = generate_run(record["settings"]["models"][0], key=sample["key"], exact_length=24, num=3, seed=5 + i,
                             temperature=1.0, min_p=None)
        assert [len(n) for n in study.notes] == [24] * 3
        assert sample["in_signature"] == pytest.approx(
            [in_signature_rate(n.pitch, sample["key"]).by_count for n in study.notes])


def test_the_page_says_what_was_measured(gallery):
    text = gallery.read_text(encoding="utf-8")
    record = json.loads((gallery.parent / "gallery.json").read_text())
    assert "folk-lstm 2.400, folk-gru 2.500 and folk-rnn (tanh RNN) 2.900" in text  # ordered by the numbers
    for sentence in record["sentences"]:
        assert sentence.replace("'", "&#x27;") in text
    assert "no gate, so no half-life" in text


def test_no_models_is_one_clear_error(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "pretrained"
    empty.mkdir()
    monkeypatch.setattr(hub, "pretrained_dir", lambda: empty)
    with pytest.raises(CheckpointError, match="no models for the gallery.*musicgate train"):
        build_gallery(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert main(["demo", "-o", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no models for the gallery" in err[0]


def test_bad_settings_fail_before_any_work(tmp_path):
    models = tiny_models(tmp_path / "models")
    with pytest.raises(ConfigError, match="keys repeat"):
        build_gallery(tmp_path / "out", models=models, keys=("D", "D major"))
    with pytest.raises(ConfigError, match="length"):
        build_gallery(tmp_path / "out", models=models, length=0)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        build_gallery(tmp_path / "out", models=[str(tmp_path / "missing.pt")])
    assert not (tmp_path / "out").exists()


def test_cli_gallery_and_demo(tmp_path, monkeypatch, capsys):
    import musicgate.teach.demo as demo

    models = tiny_models(tmp_path / "models")
    shipped = tmp_path / "pretrained"  # only folk-gru is installed
    shipped.mkdir()
    shutil.copyfile(models[2], shipped / "folk-gru.pt")
    monkeypatch.setattr(hub, "pretrained_dir", lambda: shipped)
    assert main(["-q", "gallery", "-o", str(tmp_path / "g"), "--key", "A minor", "--length", "12", "--num", "1"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "g" / "index.html").as_uri() in out
    assert "Not installed, so not shown: folk-rnn, folk-lstm." in (tmp_path / "g" / "index.html").read_text()
    argv = ["--model", models[2], "--key", "A minor"]
    quick = {"keys": ["C major", "A minor"], "n_per_key": 2, "length": 32, "windows": [16], "positions": [16, 32],
             "drift_window": 16, "n_boot": 50, "dataset": None, "batch_size": 8, "device": "cpu"}
    monkeypatch.setattr(demo, "quick_retention_settings", lambda: dict(quick))
    monkeypatch.setattr("musicgate.teach.gallery.DEFAULT_LENGTH", 12)
    assert main(["-q", "demo", "-o", str(tmp_path / "d")] + argv) == 0
    out = capsys.readouterr().out
    index = tmp_path / "d" / "index.html"
    assert index.as_uri() in out and "retention report:" in out
    text = index.read_text()
    assert 'id="retention"' in text and "retention-w16.png" in text
    # without a speech run, the page says how to make one
    assert "musicgate speech train --data synth-digits --cell gru -o runs/digits-gru" in text
    refs, _ = page_refs(index)
    assert all((index.parent / r).exists() for r in refs if not r.startswith("#"))


# -- the comparison is written from the numbers ------------------------------------------------
rates = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6)


@settings(max_examples=20, deadline=None)
@given(st.tuples(rates, rates, rates), st.tuples(*[st.floats(1.0, 4.0)] * 3))
def test_sentences_follow_the_numbers(sig, nll):
    cells = [CellNumbers(label=f"m{i}", cell=c, params=1000, nll_per_note=n, in_signature=np.array(s),
                         agreement=np.array(s)) for i, (c, s, n) in enumerate(zip(("rnn", "lstm", "gru"), sig, nll))]
    text = comparison_sentences(cells)
    nll_line = next(s for s in text if s.startswith("Validation NLL"))
    order = [int(m) for m in re.findall(r"m(\d) \(", nll_line.split(". For ")[0])]
    assert [nll[i] for i in order] == sorted(nll)
    sig_line = next(s for s in text if s.startswith("In-signature rate"))
    order = [int(m) for m in re.findall(r"m(\d) \(", sig_line)]
    means = [mean_ci(sig[i])[0] for i in order]
    assert means == sorted(means, reverse=True)
    verdict = next(s for s in text if "on in-signature rate" in s.lower() and s is not sig_line)
    top, low = mean_ci(sig[order[0]]), mean_ci(sig[order[-1]])
    assert ("clearly higher" in verdict) == (top[1] > low[2])


def test_half_life_sentence_quotes_the_medians():
    cells = [CellNumbers("a", "lstm", half_lives=np.array([2.0, 4.0, 30.0])),
             CellNumbers("b", "gru", half_lives=np.array([1.0, 2.0, np.inf])),
             CellNumbers("c", "rnn")]
    text = " ".join(comparison_sentences(cells))
    assert "a (LSTM) 4.0 token steps" in text and "b (GRU) 2.0 token steps" in text
    assert "2.0x as long" in text and "never forgets" in text and "c (tanh RNN) has no gate" in text
    assert not math.isnan(mean_ci([0.5])[0]) and math.isnan(mean_ci([])[0])


# -- a real browser ----------------------------------------------------------------------------
def _need_chromium() -> str:
    path = shutil.which(CHROMIUM) or shutil.which("chromium")
    if path:
        return path
    message = (f"chromium is not installed ({CHROMIUM}); the gallery's browser test needs Debian's chromium: "
               "apt-get install -y chromium")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


CHECK_JS = """async () => {
  const audios = [...document.querySelectorAll('audio')];
  const audio = await Promise.all(audios.map(el => new Promise(res => {
    const done = () => res({src: el.currentSrc, duration: el.duration, ready: el.readyState,
                            error: el.error ? el.error.code : null});
    if (el.readyState >= 1) return done();
    el.addEventListener('loadedmetadata', done, {once: true});
    el.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
    el.load();
  })));
  await Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r, {once: true}); i.addEventListener('error', r, {once: true}); })));
  const images = [...document.images].map(i => {
    const fig = i.closest('figure'), cap = fig && fig.querySelector('figcaption');
    return {src: i.currentSrc, width: i.naturalWidth, caption: cap ? cap.textContent.trim() : ''};
  });
  const gates = [...document.querySelectorAll('dl.gates dt')].map(d => d.textContent.trim());
  const overflow = [...document.images].filter(i => i.getBoundingClientRect().right > window.innerWidth + 1)
    .map(i => i.currentSrc);
  return {audio, images, gates, overflow, width: window.innerWidth};
}"""


def _with_playwright(chromium: str, index: Path, shot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    errors, remote = [], []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True,
                                                   args=CHROME_ARGS, viewport={"width": 1280, "height": 1000})
        try:
            page = ctx.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            # media elements abort their request once they have the metadata: not an error
            page.on("requestfailed", lambda r: errors.append(f"failed: {r.url} ({r.failure})")
                    if "ERR_ABORTED" not in (r.failure or "") else None)
            page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto(index.as_uri(), wait_until="load")
            result = page.evaluate(CHECK_JS)
            page.screenshot(path=str(shot), full_page=False)
        finally:
            ctx.close()
    return {**result, "errors": errors, "remote": remote}


def _with_dump_dom(chromium: str, index: Path, shot: Path) -> dict:
    """No Playwright: a copy of the page that runs the checks and writes them into the DOM."""
    probe = index.with_name("browser-check.html")
    script = ("<script>window.__errors=[];window.addEventListener('error',e=>window.__errors.push(String("
              "e.message||e.target&&e.target.src)),true);window.addEventListener('load',async()=>{const r=await("
              f"{CHECK_JS})();r.errors=window.__errors;r.remote=[];const p=document.createElement('pre');"
              "p.id='result';p.textContent=JSON.stringify(r);document.body.appendChild(p);});</script>")
    probe.write_text(index.read_text(encoding="utf-8").replace("<head>", "<head>" + script, 1), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            common = [chromium, *CHROME_ARGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000"]
            dom = subprocess.run(common + ["--dump-dom", probe.as_uri()], capture_output=True, text=True,
                                 timeout=120).stdout
            subprocess.run(common + [f"--screenshot={shot}", "--window-size=1280,1000", index.as_uri()],
                           capture_output=True, timeout=120)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, "chromium did not run the check script on the page"
    import html as html_module

    return json.loads(html_module.unescape(found.group(1)))


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser, checked before the gallery is built (fail in CI, skip elsewhere)."""
    return _need_chromium()


def test_page_works_in_a_real_browser(chromium, gallery, tmp_path):
    shot = tmp_path / "gallery.png"
    if importlib.util.find_spec("playwright") is not None:
        result = _with_playwright(chromium, gallery, shot)
    else:  # the browser alone: a copy of the page with a checking script, read back with --dump-dom
        result = _with_dump_dom(chromium, gallery, shot)
    assert result["errors"] == [] and result["remote"] == []  # no console errors, nothing fetched
    assert len(result["audio"]) == 3 * len(KEYS) + 2  # the tunes and the speech clips
    for a in result["audio"]:
        assert a["error"] is None and a["ready"] >= 1 and a["duration"] > 0, a
        assert a["src"].startswith("file://")
    refs, _ = page_refs(gallery)
    assert len(result["images"]) == sum(r.endswith(".png") for r in refs) // 2  # each img is also a link
    for img in result["images"]:  # every picture loads and says what to look at
        assert img["width"] > 0 and len(img["caption"]) > 20, img
    keepers = [img for img in result["images"] if img["src"].endswith("_keykeeper.png")]
    assert len(keepers) == 3 and all(img["width"] == 1200 for img in keepers)
    # each gate explained once (the RNN's hidden state, the GRU's h: once per cell), the keep gates labelled
    assert sorted(result["gates"]) == sorted(["hidden state h", "input gate i", "forget gate f (keep)", "output gate o",
                                              "cell state c", "reset gate r", "update gate z (keep)", "hidden state h"])
    assert result.get("overflow", []) == []  # every picture fits the page width
    assert shot.is_file() and shot.stat().st_size > 10_000
    keep = os.environ.get("MUSICGATE_GALLERY_SHOT")
    if keep:
        shutil.copyfile(shot, keep)


def test_same_named_checkpoints_keep_their_files_apart(tmp_path):
    models = tiny_models(tmp_path / "models")
    index = build_gallery(tmp_path / "out", models=[models[1], models[1]], keys=("E minor",), length=6, num=1,
                          quiet=True)
    record = json.loads((index.parent / "gallery.json").read_text())
    assert [s["model"] for s in record["samples"]] == ["folk-lstm", "folk-lstm-2"]
    assert len({s["files"]["wav"] for s in record["samples"]}) == 2
    with pytest.raises(ConfigError, match="not a retention run folder"):
        build_gallery(tmp_path / "out", models=models[:1], retention=tmp_path)


def test_plain_words_follow_the_numbers():
    from musicgate.analysis.keykeeper import KeyKeepers
    from musicgate.teach.text import plain_in_key, plain_keepers

    def kk(best: float, early: float) -> KeyKeepers:
        acc = np.array([best, 0.3, 0.3])
        return KeyKeepers(units=np.array([0, 1, 2]), accuracy=acc, by_note=np.full((3, 20), early), chance=1 / 3,
                          keys=["D major", "A minor", "G mixolydian"], skip=8)

    cells = [CellNumbers("r", "rnn", in_signature=np.full(8, 0.75), keepers=kk(0.37, 0.35)),
             CellNumbers("l", "lstm", in_signature=np.full(8, 0.70), half_lives=np.array([7.0, 8.0]),
                         keepers=kk(0.91, 0.9)),
             CellNumbers("g", "gru", in_signature=np.full(8, 0.95), half_lives=np.array([0.5, 0.7]),
                         keepers=kk(1.0, 1.0))]
    words = plain_in_key(cells)
    assert words[0].startswith("Out of every 10 notes, the GRU about 9.5, the tanh RNN about 7.5 and the LSTM about 7.0")
    assert words[1] == "The GRU stays in key clearly more than the LSTM."
    text = " ".join(plain_keepers(cells))
    assert "The GRU and LSTM keep the key in a few units" in text and "100% and 91%" in text
    assert "No unit of the tanh RNN tells the key much better than guessing (not even at the first note" in text
    assert "The LSTM's units hold their memory longest, yet the GRU stays in key more: no contradiction." in text
    cells[0].keepers = kk(0.37, 0.9)  # knew it at first: then it says the memory fades
    assert "it knows the key at the first notes, then its memory of it fades" in " ".join(plain_keepers(cells))
    cells[1].in_signature = np.full(8, 0.99)  # the longest memory also stays in key best: nothing to explain
    assert "no contradiction" not in " ".join(plain_keepers(cells))
    assert "as if it were in C" not in " ".join(plain_keepers(cells))
    cells[1].tonic_frame = cells[2].tonic_frame = True   # models in the tonic frame keep the mode, not the tonic
    assert ("The GRU and LSTM read every tune as if it were in C (the tonic is handed to the network at every note), "
            "so to them these keys differ only in their mode") in " ".join(plain_keepers(cells))
    for words in (plain_in_key(cells), plain_keepers(cells)):
        assert not any(w in " ".join(words) for w in ("NLL", "nats", "interval", "half-life"))


def test_a_modal_tune_s_key_strip_names_the_mode_asked(tmp_path, monkeypatch):
    """The caption says dark blue is the key asked for: for G mixolydian the legend names it, and
    the major key the key finder hears it as (not "target G major")."""
    from musicgate.music.keys import parse_key
    from musicgate.music.notes import Notes
    from musicgate.teach import gallery
    from musicgate.viz import plots

    saved = {}

    def keep(fig, path, **kw):
        saved["labels"] = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        return Path(path)

    monkeypatch.setattr(plots, "save_figure", keep)
    scale = [67, 69, 71, 72, 74, 76, 77, 79]  # G mixolydian, up and down, 48 notes
    pitches = (scale + scale[::-1]) * 3
    notes = Notes.from_arrays(pitch=pitches, onset=np.arange(len(pitches), dtype=float),
                              duration=np.ones(len(pitches)))
    gallery.roll_and_key_curve(notes, parse_key("G mixolydian"), tmp_path / "x.png", title="t")
    assert saved["labels"] and saved["labels"][0].startswith("target G mixolydian, heard as G major: ")


def test_the_key_strip_spans_the_whole_tune(tmp_path, monkeypatch):
    """A tune of 40 notes has 32-note windows around notes 15.5 to 23.5 only: the first window's key is
    drawn from the first note, the last window's to the last note, so no part of the strip is blank."""
    from musicgate.music.keys import parse_key
    from musicgate.music.notes import Notes
    from musicgate.teach import gallery
    from musicgate.viz import plots

    saved = {}

    def keep(fig, path, **kw):
        strip = fig.axes[1]
        saved["spans"] = [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in strip.collections[0].get_paths()]
        return Path(path)

    monkeypatch.setattr(plots, "save_figure", keep)
    pitches = ([62, 64, 66, 67, 69, 71, 73, 74] * 5)  # D major, 40 notes
    notes = Notes.from_arrays(pitch=pitches, onset=np.arange(40, dtype=float), duration=np.ones(40))
    gallery.roll_and_key_curve(notes, parse_key("D major"), tmp_path / "x.png", title="t")
    spans = saved["spans"]
    assert spans[0][0] == -0.5 and spans[-1][1] == 39.5
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # no gaps between windows
