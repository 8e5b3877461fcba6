"""Bars in the right place and the tune's form: pickups, bar lines, ties at bar lines, repeat and
ending tokens, the played form, MusicXML repeat barlines, and the bad inputs of issue 12."""
from __future__ import annotations

import numpy as np
import pytest

from musicgate.data.corpora import Item, _music21_corpus_dir, abc_tunes, parse_item
from musicgate.music.abc import read_abc
from musicgate.music.midi import midi_bytes, read_midi
from musicgate.music.notes import Notes, form_problems
from musicgate.tokens.tokenizer import load_tokenizer, make_tokenizer

TOK = make_tokenizer("melody", pitch_range=(21, 108))


def words(ids) -> list[str]:
    return [TOK.vocab[i] for i in ids]


def tune(collection: str, file: str, index: int) -> str:
    return abc_tunes(_music21_corpus_dir() / collection / file, "folk")[index].text


def test_fare_you_well_has_its_first_bar_after_the_two_note_pickup():
    text = tune("oneills1850", "0001-0050.abc", 1)
    assert "Fare You Well" in text and "f-g | a3-b g3-a |" in text
    notes = read_abc(text).notes
    assert notes.onset[:3].tolist() == [1.5, 1.75, 2.0]  # 2/4: the pickup f g ends on the bar line at beat 2
    w = words(TOK.encode(notes))
    assert w[3:8] == ["PITCH_78", "DUR_3", "PITCH_79", "DUR_3", "BAR"]  # no leading REST, BAR after f g
    assert TOK.decode(TOK.encode(notes)).onset[:3].tolist() == [1.5, 1.75, 2.0]


@pytest.mark.parametrize("collection, file, index, shift, first_bar", [
    ("essenFolksong", "han1.abc", 47, 2.0, 3.0),  # M:3/4, A2 | A2d2d2 | ...: a one-beat pickup
    ("ryansMammoth", "42dHighlandRegimentStrathspey.abc", 0, 3.5, 4.0),  # M:C, e | ...: an eighth
    ("oneills1850", "0001-0050.abc", 1, 1.5, 2.0),  # M:2/4, f-g | ...: two sixteenths
])
def test_hand_checked_pickups_end_on_the_first_bar_line(collection, file, index, shift, first_bar):
    t = read_abc(tune(collection, file, index))
    assert t.pickup_shift == shift and t.notes.onset[0] == shift
    assert t.notes.bars[0] == (first_bar, "|")
    ids = TOK.encode(t.notes)
    first_bar_token = next(i for i, x in enumerate(ids) if x in TOK.barline_ids)
    steps = sum(int(TOK.vocab[x][4:]) for x in ids[:first_bar_token] if TOK.vocab[x].startswith("DUR_"))
    assert steps == (first_bar - shift) * TOK.grid
    assert TOK.decode(ids) == TOK.quantize(t.notes)


def test_a_note_across_a_bar_line_is_tied_there_and_every_inner_bar_is_full():
    notes = Notes.from_arrays([60, 62, 64], [0, 3, 5], [3, 2, 3], meter=(4, 4))
    w = words(TOK.encode(notes))[3:-1]
    assert w == ["BAR", "PITCH_60", "DUR_36", "PITCH_62", "DUR_12", "BAR", "TIE", "DUR_12", "PITCH_64", "DUR_36",
                 "BAR"]
    assert TOK.decode(TOK.encode(notes)).duration.tolist() == [3.0, 2.0, 3.0]
    assert TOK.bar_fill(TOK.encode(notes)) == (1, 1)  # beats 0-4; 4-8 is the final bar, left out
    # and a TIE after a rest is silence
    rest_tie = [TOK.bos_id, TOK.key_unknown_id, TOK.meter_id((4, 4)), TOK.rest_id, TOK.dur_base, TOK.tie_id,
                TOK.dur_base + 1, TOK.eos_id]
    assert len(TOK.decode(rest_tie)) == 0


AABB = """X:1
T:Form
M:4/4
L:1/4
K:G
D |: GABc | d3 D :|
|: BBBB |1 A3 D :|2 G3 |]
"""


def test_repeats_and_endings_are_tokens_and_play_as_aabb():
    notes = read_abc(AABB).notes
    assert [k for _, k in notes.form_marks] == ["|:", ":|", "|:", "|1", ":|", "|2", "||"]
    w = words(TOK.encode(notes))
    for name in ("REPEAT_START", "REPEAT_END", "ENDING_1", "ENDING_2", "PART_END"):
        assert name in w
    assert "BAR" not in w[w.index("REPEAT_END") - 1:w.index("REPEAT_END") + 2]  # it stands instead of the BAR
    decoded = TOK.decode(TOK.encode(notes))
    assert decoded == TOK.quantize(notes) and decoded.form_marks == notes.form_marks
    played = notes.played()
    # A: D G A B c d D, twice; B: B B B B A D (first ending), then B B B B G (second ending)
    names = played.pitch.tolist()
    a_part = [62, 67, 69, 71, 72, 74, 62]
    assert names == a_part + a_part[1:] + [71] * 4 + [69, 62] + [71] * 4 + [67]
    assert np.all(np.diff(played.onset) > 0) and played.onset[0] == 3.0
    assert not played.form_marks
    back = read_midi(midi_bytes(notes))  # MIDI holds the played form
    assert back.pitch.tolist() == names


def test_unbalanced_form_is_read_as_written_and_named():
    no_start = read_abc("X:1\nM:2/4\nL:1/4\nK:C\nCD | EF :| GA |]\n").notes
    assert form_problems(no_start.bars) == ["repeat end without start"]
    assert no_start.played().pitch.tolist() == [60, 62, 64, 65, 60, 62, 64, 65, 67, 69]  # from the start
    second_only = read_abc("X:1\nM:2/4\nL:1/4\nK:C\n|: CD | EF |2 GA |]\n").notes
    assert "second ending without first" in form_problems(second_only.bars)
    assert "repeat start without end" in form_problems(second_only.bars)
    assert len(second_only.played()) == len(second_only)  # nothing to repeat


def test_a_repeat_back_to_a_pickup_plays_on_without_a_gap():
    """The pickup completes the short last bar: the repeat goes on from the pickup's note at once."""
    tune = read_abc("X:1\nM:2/4\nL:1/8\nK:G\nD | G2 AB | c2 B :|\n").notes
    assert tune.onset[0] == 1.5  # the pickup: the first bar line falls one bar after 0
    played = tune.played()
    assert played.pitch.tolist() == tune.pitch.tolist() * 2
    assert played.onset.tolist() == [1.5, 2, 3, 3.5, 4, 5, 5.5, 6, 7, 7.5, 8, 9]
    assert np.allclose(played.onset[1:], played.onset[:-1] + played.duration[:-1])  # no silence inside
    assert form_problems(read_abc(AABB).notes.bars) == []


def test_old_tokenizer_configs_load_as_the_old_vocabulary():
    old = {"kind": "melody", "grid": 12, "pitch_range": [21, 108], "max_beats": 8}
    tok = load_tokenizer(old)
    assert tok.form is False and "TIE" not in tok.vocab and tok.config == old
    assert tok.vocab == make_tokenizer("melody", pitch_range=(21, 108), form=False).vocab
    assert list(tok.barline_ids) == [tok.bar_id]
    new = make_tokenizer("melody", pitch_range=(21, 108))
    assert load_tokenizer({**new.config, "vocab": new.vocab}) == new and new.config["form"] is True
    assert set(new.barline_ids.tolist()) == {new.ids[t] for t in ("BAR", "REPEAT_START", "REPEAT_END", "ENDING_1",
                                                                 "ENDING_2", "PART_END")}
    assert new.bar_steps((6, 8)) == 36 and new.bar_steps(None) == 48


def test_checkpoints_of_the_earlier_vocabulary_load_and_generate(tmp_path):
    """A checkpoint whose tokenizer config has no ``form`` (every model trained before the form
    tokens, the earlier shipped ones included) loads with the earlier vocabulary and still generates."""
    import torch

    from musicgate.generation.api import generate
    from musicgate.nn.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
    from musicgate.nn.models import RecurrentLM

    old = make_tokenizer("melody", pitch_range=(21, 108), form=False)
    config = {k: v for k, v in old.config.items() if k != "form"}  # as the earlier versions saved it
    saved = load_tokenizer({**config, "vocab": old.vocab})
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=len(saved), cell="gru", hidden=16, layers=1)
    path = save_checkpoint(make_checkpoint(model=model, config={"model": {"cell": "gru"}}, tokenizer=saved,
                                           dataset={"name": "test"}, step=0, best_val_loss=None), tmp_path / "old.pt")
    tok = load_checkpoint(path).tokenizer
    assert getattr(tok, "form", False) is False and "TIE" not in tok.vocab and len(tok) == len(old)
    tunes = generate(str(path), key="D major", length=12, num=2, seed=3)
    assert len(tunes) == 2 and all(len(t) >= 1 for t in tunes)


def test_musicxml_shows_repeats_endings_and_the_pickup(tmp_path):
    import music21

    from musicgate.music.score import write_musicxml

    path = write_musicxml(TOK.decode(TOK.encode(read_abc(AABB).notes)), tmp_path / "form.musicxml")
    text = path.read_text()
    assert text.count('<repeat direction="forward"') == 2 and text.count('<repeat direction="backward"') == 2
    assert '<ending number="1"' in text and '<ending number="2"' in text
    first = music21.converter.parse(str(path)).parts[0].getElementsByClass("Measure")[0]
    assert [n.pitch.midi for n in first.notes] == [62] and first.duration.quarterLength == 1.0  # the pickup


def parsed(text: str):
    return parse_item((Item("t.abc#X:1", "abc", "oneills", text=text), TOK.config, True))


def test_bad_input_is_read_as_the_notation_means_or_rejected_with_its_reason():
    long_pickup = parsed("X:1\nM:2/4\nL:1/4\nK:C\nCDE | FG |]\n")
    assert long_pickup.reject.startswith("first bar is 3 beats, longer than a bar of 2/4")
    meter_change = parsed("X:1\nM:2/4\nL:1/4\nK:C\nCD | EF |\nM:3/4\nGAB |]\n")
    assert meter_change.reject.startswith("meter changes mid-tune (2/4 to 3/4)")
    no_bars = parsed("X:1\nM:2/4\nL:1/4\nK:C\nCDEFGA\n")
    assert no_bars.reject is None and "no bar lines" in no_bars.form
    assert words(no_bars.ids).count("BAR") == 4  # bar lines from the meter: at beats 0, 2, 4 and 6 (the end)
    unbalanced = parsed("X:1\nM:2/4\nL:1/4\nK:C\nCD | EF :| GA |]\n")
    assert unbalanced.reject is None and unbalanced.form == ["repeats", "repeat end without start"]
    assert unbalanced.bar_fill == (1, 1)  # E F; C D is before the first bar line, G A is the final bar


def test_a_midi_file_keeps_its_bar_grid_and_without_a_time_signature_gets_four_four():
    three = Notes.from_arrays([60, 62, 64], [2, 3, 4], [1, 1, 1], meter=(3, 4))  # a pickup of one beat
    back = read_midi(midi_bytes(three))
    w = words(TOK.encode(back))
    assert w[3:6] == ["PITCH_60", "DUR_12", "BAR"] and TOK.decode(TOK.encode(back)).onset[0] == 2.0
    none = read_midi(midi_bytes(Notes.from_arrays([60, 62], [0, 4.5], [1, 1])))
    assert none.meters == () and words(TOK.encode(none))[2:4] == ["METER_unknown", "BAR"]
    assert [b for b, _ in TOK.decode(TOK.encode(none)).bars] == [0.0, 4.0]  # 4/4, as MIDI says


def test_oneills_repeat_sign_after_the_last_note_is_read_as_the_final_bar_line():
    """O'Neill's ``|:|`` after a tune's last note (music21: ``|:`` then ``|``) opens nothing: read as ``||``.
    A ``|:`` with notes after it stays a repeat start."""
    text = tune("oneills1850", "0001-0050.abc", 4)
    assert text.rstrip().endswith("G3-G2 |:|")
    notes = read_abc(text).notes
    end = float((notes.onset + notes.duration).max())
    assert notes.bars[-1] == (end, "||") and all(k != "|:" or b < end for b, k in notes.bars)
    w = words(TOK.encode(notes))
    assert w[-2:] == ["PART_END", "EOS"]
    made = read_abc("X:1\nM:2/4\nL:1/8\nK:D\n|: ab ag | fe dc :| |: d2 d2 | A4 |:|\n").notes
    assert [k for _, k in made.bars] == ["|:", "|", ":|", "|:", "|", "||"]
