"""benchmarks/loops.py: the loops of one passage, per set of an evaluate report."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "loops.py"


def _script():
    spec = importlib.util.spec_from_file_location("loops", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _set(name, loops):
    return {"name": name, "per_tune": [{"passage_loop": v} for v in loops]}


def test_the_table_counts_each_sets_tunes_real_tunes_first(tmp_path, capsys):
    report = {"reference": _set("real tunes", [1, 2, 4, None]), "sets": [_set("a", [1, 1, 5, 8]), _set("b", [None])]}
    rows = _script().loops_table(report, "cmd").splitlines()[4:]
    assert rows == ["| real tunes | 3 | 2.33 | 0.333 | 4 |", "| a | 4 | 3.75 | 0.500 | 8 |", "| b | 0 | n/a | n/a | n/a |"]
    path = tmp_path / "evaluate.json"
    path.write_text(json.dumps(report))
    assert _script().main([str(path), "-o", str(tmp_path / "loops.md")]) == 0
    assert (tmp_path / "loops.md").read_text() == capsys.readouterr().out
    assert "python benchmarks/loops.py" in (tmp_path / "loops.md").read_text()


def test_a_file_that_is_no_report_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert _script().main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a musicgate evaluate report" in err
