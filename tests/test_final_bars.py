"""benchmarks/final_bars.py: a tune's final bar, its last part, an end the meter grammar refuses."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from musicgate.tokens.tokenizer import make_tokenizer

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
TOK = make_tokenizer("melody", pitch_range=(48, 84))


def _script(name: str):
    sys.path.insert(0, str(BENCH))   # the scripts import benchmarks/common.py
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ids(*words: str) -> np.ndarray:
    return np.array([TOK.ids[w] for w in ("BOS", "KEY_D_major", "METER_2/4", *words)], np.int64)


BAR = ["PITCH_62", "DUR_12", "PITCH_64", "DUR_12"]           # one full bar of 2/4 (12 steps a quarter)
HALF = ["PITCH_62", "DUR_12"]                               # half of one


def test_the_final_bar_and_a_stub_last_part():
    fb = _script("final_bars")
    tune = _ids(*BAR, "BAR", *BAR, "BAR", "PITCH_62", "DUR_12", "PITCH_62", "DUR_12", "BAR", "EOS")
    assert fb.final_bar(TOK, tune).tolist() == [13, 15]   # the notes after the last bar line with notes after it
    assert not fb.stub_part(TOK, tune)                     # no part marks at all
    parts = _ids(*BAR, "BAR", *BAR, "PART_END", *BAR, "BAR", *BAR, "BAR", *BAR, "REPEAT_END", "EOS")
    assert not fb.stub_part(TOK, parts)                    # a last part of three bar lines
    stub = _ids(*BAR, "BAR", *BAR, "BAR", *BAR, "PART_END", "REPEAT_START", *BAR, "BAR", "EOS")
    assert fb.stub_part(TOK, stub)                         # opened, one bar, closed
    closed = _ids(*BAR, "BAR", *BAR, "BAR", "PART_END", "EOS")
    assert not fb.stub_part(TOK, closed)                   # a mark after the last note closes the tune


def test_an_end_the_meter_grammar_refuses():
    fb = _script("final_bars")
    short = _ids(*BAR, "BAR", *BAR, "BAR", *HALF, "EOS")   # ends on half a bar: a short last bar, allowed
    full = _ids(*BAR, "BAR", *BAR, "BAR", *BAR, "BAR", "EOS")
    fragment = _ids(*HALF, "EOS")                           # ends inside its pickup, before any bar line
    grammar = TOK.sampling_grammar(True)
    assert not fb.refused_ends(grammar, short) and not fb.refused_ends(grammar, full)
    assert fb.refused_ends(grammar, fragment)
    p_eos = np.zeros(len(full))
    p_eos[14] = 0.9   # p(EOS) for the token after index 14, the DUR that ends half of the third bar: allowed
    assert not fb.refused_ends(grammar, full, p_eos)
    p_eos[4] = 0.9    # after the first note's DUR, before the first bar line: refused
    assert fb.refused_ends(grammar, full, p_eos) and not fb.refused_ends(grammar, full, p_eos, at=0.95)


def test_parts_and_a_last_part_cut_short():
    fb = _script("final_bars")
    # |: A A :| |: B B :|  with a one-bar first and second ending in the B part
    aabb = _ids("REPEAT_START", *BAR, "BAR", *BAR, "REPEAT_END", "REPEAT_START", *BAR, "ENDING_1", *BAR,
                "REPEAT_END", "ENDING_2", *BAR, "PART_END", "EOS")
    assert fb.part_bars(TOK, aabb) == [2, 3]     # the endings stay in their part; an opening |: counts nothing
    cut = _ids(*BAR, "BAR", *BAR, "BAR", *BAR, "BAR", *BAR, "PART_END", *BAR, "EOS")
    assert fb.part_bars(TOK, cut) == [4, 1]      # the last bar without a closing bar line counts
    assert fb.short_part(TOK, cut) and not fb.short_part(TOK, aabb)
    assert fb.short_part(TOK, _ids(*BAR, "BAR", *BAR, "BAR", "EOS")) is None   # one part
    middle = _ids(*BAR, "BAR", *BAR, "BAR", *BAR, "PART_END", *BAR, "PART_END", *BAR, "BAR", *BAR, "BAR", *BAR, "EOS")
    assert fb.part_bars(TOK, middle) == [3, 1, 3] and fb.short_part(TOK, middle)   # a short part in the middle
    assert fb.short_repeat(TOK, aabb) and not fb.short_repeat(TOK, cut)   # aabb's A part has two bars
    assert fb.short_repeat(TOK, _ids(*BAR, "BAR", *BAR, "BAR", *BAR, "PART_END", "REPEAT_START", *BAR, "BAR", *BAR,
                                     "REPEAT_END", *BAR, "BAR", *BAR, "BAR", *BAR, "EOS"))   # |: two bars :|
    first_ending = _ids("REPEAT_START", *BAR, "BAR", *BAR, "BAR", *BAR, "ENDING_1", *BAR, "REPEAT_END", "ENDING_2",
                        *BAR, "PART_END", "EOS")
    assert not fb.short_repeat(TOK, first_ending)   # a first ending's :| stays in its part
    assert fb.part_bars(TOK, _ids(*HALF, "BAR", *BAR, "REPEAT_END", *BAR, "PART_END", "EOS")) == [2, 1]   # a pickup bar counts


def test_a_repeat_left_open():
    fb = _script("final_bars")
    assert fb.open_repeat(TOK, _ids(*BAR, "BAR", "REPEAT_START", *BAR, "BAR", *BAR, "PART_END", "EOS"))
    assert not fb.open_repeat(TOK, _ids("REPEAT_START", *BAR, "REPEAT_END", "REPEAT_START", *BAR, "REPEAT_END", "EOS"))
    assert not fb.open_repeat(TOK, _ids(*BAR, "REPEAT_END", *BAR, "BAR", "EOS"))   # a repeat back to the start
    assert not fb.open_repeat(TOK, _ids(*BAR, "BAR", *BAR, "REPEAT_START", "EOS"))  # O'Neill's |:| at the end


def test_endings_not_as_abc_writes_them():
    fb = _script("final_bars")
    good = _ids("REPEAT_START", *BAR, "ENDING_1", *BAR, "REPEAT_END", "ENDING_2", *BAR, "PART_END", "EOS")
    assert not fb.ending_flaw(TOK, good)
    assert fb.ending_flaw(TOK, _ids(*BAR, "ENDING_1", *BAR, "REPEAT_END", *BAR, "EOS"))          # |1, no |2
    assert fb.ending_flaw(TOK, _ids(*BAR, "REPEAT_END", "ENDING_2", *BAR, "EOS"))                # |2, no |1
    assert fb.ending_flaw(TOK, _ids(*BAR, "ENDING_1", *BAR, "BAR", "ENDING_2", *BAR, "EOS"))     # |2 not after :|
    assert fb.ending_flaw(TOK, _ids(*BAR, "PART_END", "REPEAT_END", *BAR, "EOS"))                # || :|


def test_a_repeat_start_after_the_last_note():
    fb = _script("final_bars")
    assert fb.trailing_repeat_start(TOK, _ids(*BAR, "BAR", *BAR, "PART_END", "REPEAT_START", "EOS"))
    assert not fb.trailing_repeat_start(TOK, _ids("REPEAT_START", *BAR, "REPEAT_END", "EOS"))
