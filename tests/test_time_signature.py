"""Asking ``generate`` for a time signature: names, the header it fixes, the record and bad input."""
from __future__ import annotations

import sys
from pathlib import Path

import importlib
import json

import pytest
from hypothesis import given, strategies as st

from musicgate.nn.hub import load_model
from musicgate.tokens.grammar import barline_ids
from musicgate.cli import main
from musicgate.errors import ConfigError
from musicgate.music.meters import DANCE_PLANS, DANCES, meter_name, parse_meter
from musicgate.music.midi import read_midi
from musicgate.tokens.tokenizer import METERS
from tests.test_generate import ckpts, d_major_primer  # noqa: F401  (fixture)

gen = importlib.import_module("musicgate.generation.api")


def bar_fills(tok, ids) -> list[int]:
    """Grid steps between consecutive bar-line tokens (ties and rests included; marks at one line merged)."""
    steps = {i: int(name[4:]) for i, name in enumerate(tok.vocab) if name.startswith("DUR_")}
    lines = set(barline_ids(tok).tolist())
    fills, pos = [], 0
    for t in ids[3:].tolist():
        if t in lines:
            fills += [pos] if pos else []
            pos = 0
        else:
            pos += steps.get(t, 0)
    return fills


# -- names -----------------------------------------------------------------------------------------
@given(st.sampled_from(METERS), st.sampled_from(["{n}/{d}", " {n}/{d} ", "{n} / {d}"]))
def test_every_vocabulary_meter_reads_back_by_its_name(name, form):
    n, d = name.split("/")
    assert meter_name(parse_meter(form.format(n=n, d=d))) == name
    assert parse_meter(tuple(int(x) for x in name.split("/"))) == parse_meter(name)


@pytest.mark.parametrize("text, meter", [("jig", (6, 8)), ("Slip-Jig", (9, 8)), ("slip_jig", (9, 8)),
                                         ("REEL", (2, 2)), ("Highland Fling", (2, 2)), ("strathspey", (4, 4)), ("polka", (2, 4)), ("waltz", (3, 4)),
                                         ("slide", (12, 8)), ("C", (4, 4)), ("c|", (2, 2)), ("11/8", (11, 8))])
def test_dances_and_abc_symbols(text, meter):
    assert parse_meter(text) == meter


@pytest.mark.parametrize("bad, phrase", [("jog", "not understood"), ("6/7", "denominator is 1, 2, 4"),
                                         ("0/4", "numerator counts beats"), ("6-8", "not understood"),
                                         ("", "not understood"), ((6, 0), "denominator")])
def test_bad_names_say_what_is_understood(bad, phrase):
    with pytest.raises(ConfigError, match=phrase):
        parse_meter(bad)


def test_every_dance_is_in_the_vocabulary():
    assert all(meter_name(m) in METERS for m in DANCES.values())


def test_each_dance_is_written_as_the_folk_corpus_writes_it():
    """A dance name asks for the meter the corpus's tunes of that dance are written in (their R: and M:
    fields), which is the meter under which the models learned it: reels and hornpipes in C| (2/2)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from dances import corpus_dances, plans

    meters, tunes = corpus_dances()
    found = {dance: parse_meter(counts.most_common(1)[0][0]) for dance, counts in meters.items()
             if sum(counts.values()) >= 20}
    assert {"reel", "hornpipe", "jig", "slip jig", "strathspey"} <= set(found)
    for dance, meter in found.items():  # hornpipes: 248 in 2/4 (Ryan's), 207 in C|, and 2/4 is mostly Essen songs
        assert DANCES[dance] == meter or (dance == "hornpipe" and meter == (2, 4)), (dance, meters[dance])
    # and a dance asked by name draws its bar plans from the corpus's tunes of that dance
    assert plans(tunes) == DANCE_PLANS



# -- generation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("asked", ["6/8", "jig", "3/4", "9/8"])
def test_every_piece_is_in_the_asked_meter(ckpts, asked, tmp_path):  # noqa: F811
    run = gen.generate_run(str(ckpts["melody"]), key="D", num=6, seed=5, length=40, time_signature=asked)
    want = parse_meter(asked)
    assert [n.meter for n in run.notes] == [want] * 6
    assert run.settings["time_signature"] == meter_name(want) and run.settings["meter_source"] == "given"
    assert run.settings["meters"] == [meter_name(want)] * 6
    tok = load_model(str(ckpts["melody"]))[1]
    bar = tok.bar_steps(want)
    for ids in run.ids:  # the grammar's bars are the asked meter's (short ones only at pickups and repeat marks)
        fills = bar_fills(tok, ids)
        assert fills and max(fills) == bar and all(0 < f <= bar for f in fills)
    paths = gen.write_outputs(run.notes, tmp_path, model_name="m", key=run.key, seed=run.seed, settings=run.settings)
    assert read_midi(paths[0]).meter == want


def test_without_a_meter_the_model_draws_a_known_one_per_piece(ckpts):  # noqa: F811
    run = gen.generate_run(str(ckpts["melody"]), key="D", num=64, seed=6, length=16)
    drawn = run.settings["meters"]
    assert run.settings["time_signature"] is None and run.settings["meter_source"] == "the model's"
    assert run.settings["known_meter"] is True
    assert len(set(drawn)) > 3 and None not in drawn  # an untrained model spreads its draws over the known meters
    assert [n.meter for n in run.notes] == [parse_meter(m) for m in drawn]
    # an exact-length study takes the model's METER as it is: METER_unknown too, played (and written) as 4/4
    study = gen.generate_run(str(ckpts["melody"]), key="D", num=64, seed=6, exact_length=16)
    assert study.settings["known_meter"] is False and None in study.settings["meters"]
    assert all(n.meter == ((4, 4) if m is None else parse_meter(m))
               for n, m in zip(study.notes, study.settings["meters"]))
    free = gen.generate_run(str(ckpts["melody"]), key="D", num=64, seed=6, length=16, meter=False)
    assert free.settings["known_meter"] is False and None in free.settings["meters"]
    assert all(n.meter is None for n, m in zip(free.notes, free.settings["meters"]) if m is None)


def test_a_primer_keeps_its_own_meter(ckpts):  # noqa: F811
    primer = d_major_primer()  # 6/8
    run = gen.generate_run(str(ckpts["melody"]), primer=primer, num=2, seed=1, length=20, time_signature="jig")
    assert [n.meter for n in run.notes] == [(6, 8)] * 2 and run.notes[0].pitch[:11].tolist() == primer.pitch.tolist()
    with pytest.raises(ConfigError, match="the primer is in 6/8 and keeps its bars"):
        gen.generate_run(str(ckpts["melody"]), primer=primer, time_signature="3/4")


def test_a_meter_outside_the_vocabulary_is_refused_before_sampling(ckpts):  # noqa: F811
    with pytest.raises(ConfigError, match="11/8 is not in this model's vocabulary; give one of 2/2"):
        gen.generate_run(str(ckpts["melody"]), time_signature="11/8")


def test_rare_meter_note_reads_the_models_own_start(ckpts):  # noqa: F811
    from musicgate.music.keys import parse_key

    net, tok, _ = load_model(str(ckpts["melody"]))
    key = parse_key("D")
    assert gen.rare_meter_note(net, tok, key, (6, 8), "m") is None  # ~1/16 for an untrained model
    gen_rare = gen.RARE_METER
    try:
        gen.RARE_METER = 0.5  # every meter is under half of an untrained model's starts
        line = gen.rare_meter_note(net, tok, key, (6, 8), "m")
    finally:
        gen.RARE_METER = gen_rare
    assert line.startswith("m starts ") and "of its tunes in D major in 6/8" in line


def test_shipped_model_says_when_it_rarely_plays_the_meter():
    run = gen.generate_run("folk-lstm", key="E minor", num=1, seed=3, time_signature="12/8")
    assert any("in 12/8: it saw few tunes in this meter" in line for line in run.settings["notes"])
    common = gen.generate_run("folk-lstm", key="E minor", num=1, seed=3, time_signature="jig")
    assert not any("meter" in line for line in common.settings["notes"])


# -- CLI ---------------------------------------------------------------------------------------------
def test_cli_time_signature_is_recorded_and_printed(ckpts, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "o"
    assert main(["generate", "--model", str(ckpts["melody"]), "--key", "G", "--time-signature", "slip jig",
                 "--num", "2", "--seed", "3", "--length", "30", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    record = json.loads((out / "melody_G-major_3.json").read_text())
    assert record["time_signature"] == "9/8" and record["meters"] == ["9/8", "9/8"]
    assert "in G major (given) as slip jigs in 9/8 (given)" in text and record["dance"] == "slip jig"
    assert read_midi(out / "melody_G-major_3_0.mid").meter == (9, 8)


@pytest.mark.parametrize("value, phrase", [("jog", "'jog' is not understood"), ("11/8", "not in this model's")])
def test_cli_bad_time_signature_one_line_exit_2(ckpts, tmp_path, capsys, value, phrase):  # noqa: F811
    out = tmp_path / "o"
    assert main(["generate", "--model", str(ckpts["melody"]), "--time-signature", value, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert phrase in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
