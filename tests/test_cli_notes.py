"""The info / tokenize / detokenize commands on every real file, and their errors."""
from __future__ import annotations

import json

import pytest

from musicgate.cli import main
from musicgate.music.midi import read_midi
from musicgate.tokens.tokenizer import make_tokenizer


def real_files(shared_midi):
    return sorted(f for f in shared_midi.glob("*/*.mid") if f.parent.name != "corrupted")


def test_info_tokenize_detokenize_every_real_file(shared_midi, tmp_path, capsys):
    for f in real_files(shared_midi):
        assert main(["info", str(f)]) == 0
        for vocab in ("event", "melody"):
            ids_path, out = tmp_path / f"{vocab}.json", tmp_path / f"{vocab}.mid"
            assert main(["tokenize", str(f), "--vocab", vocab, "-o", str(ids_path)]) == 0
            assert main(["detokenize", str(ids_path), "-o", str(out)]) == 0
            tok = make_tokenizer(vocab)
            back = tok.quantize(read_midi(out))
            assert len(back) == len(tok.quantize(read_midi(f))), f.name
    assert "notes in" in capsys.readouterr().out


def test_info_json_fields(shared_midi, capsys):
    assert main(["info", "--json", str(shared_midi / "one_track" / "6354774_Macabre Waltz.mid")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["notes"] == 1928 and d["time_signatures"][0][1] == "3/4" and d["key_signatures"][0][1] == "Ab major"


def test_corrupted_file_is_one_line_and_exit_2(shared_midi, capsys):
    assert main(["info", str(shared_midi / "corrupted" / "ValueError_Control168.mid")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ValueError_Control168.mid" in err and "control_value=168" in err


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"ids": [1, 2]}'])
def test_detokenize_bad_input(tmp_path, capsys, content):
    bad = tmp_path / "ids.json"
    bad.write_bytes(content)
    out = tmp_path / "out.mid"
    assert main(["detokenize", str(bad), "-o", str(out)]) == 2
    assert "musicgate detokenize: error:" in capsys.readouterr().err
    assert not out.exists()


def test_tokenize_prints_ids_without_output(tmp_path, capsys):
    from musicgate.music.midi import write_midi
    from musicgate.music.notes import Notes

    path = write_midi(Notes.from_arrays([60, 62], [0, 1], [1, 1]), tmp_path / "a.mid")
    assert main(["tokenize", str(path), "--vocab", "melody"]) == 0
    ids = json.loads(capsys.readouterr().out)
    assert make_tokenizer("melody").decode(ids).pitch.tolist() == [60, 62]
