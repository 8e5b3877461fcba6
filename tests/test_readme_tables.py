"""The result tables of the README and of docs/ are the results files' tables: a fresh run that changes
a number changes the file, and this test then fails until the documents say the same."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


DOCS = ["README.md", "docs/long-memory.md", "docs/shipped-models.md"]
"""The documents whose tables quote results files: the README and the studies it links to."""


def README_TEXT() -> str:  # noqa: N802 - read per test, so a test names the file it compares
    """The README and the docs pages it links to for the studies, in one text: each table stands in
    exactly one of them, and a test finds it wherever it is."""
    return "\n\n".join((ROOT / name).read_text() for name in DOCS)


def _table_rows(text: str, first_cell: str) -> list[str]:
    """The markdown table whose header starts with ``first_cell``: its rows, stripped."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line.strip())
    return rows


def test_musicality_table_equals_its_results_file():
    report = (ROOT / "benchmarks" / "results" / "musicality" / "evaluate.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert _table_rows(readme, "measure") == _table_rows(report, "measure")


def test_by_mode_table_equals_the_288_tune_results_file():
    report = (ROOT / "benchmarks" / "results" / "musicality-288" / "evaluate.md").read_text()
    assert _table_rows(README_TEXT(), "asked mode") == _table_rows(report, "asked mode")


def test_shipped_models_table_equals_models_json():
    index = json.loads((ROOT / "musicgate" / "pretrained" / "models.json").read_text())
    (table,) = _tables(README_TEXT(), "model | cell | hidden")
    rows = table[2:]
    assert sorted(r.split("|")[1].strip() for r in rows) == sorted(index)
    quoted = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[3:8]] for r in rows}
    for name, entry in index.items():
        planned = entry.get("valid_nll_per_note_planned")  # models with form inputs, told each tune's bars
        assert quoted[name] == [str(entry["hidden"]), f"{entry['params']:,}", f"{entry['valid_nll_per_note']:.3f}",
                                f"{entry['valid_nll_per_token']:.3f}", "-" if planned is None else f"{planned:.3f}"], name


def test_the_table_reader_reads_tables():
    text = "x\n| measure | a |\n|---|---|\n| one | 1 |\n\nafter"
    assert _table_rows(text, "measure") == ["| measure | a |", "|---|---|", "| one | 1 |"]


RESULTS = ROOT / "benchmarks" / "results"


def _tables(text: str, first_cell: str) -> list[list[str]]:
    """Every markdown table whose header starts with ``first_cell``, in order."""
    lines, found, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith(f"| {first_cell} |"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i].strip())
                i += 1
            found.append(rows)
        i += 1
    return found


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def test_probe_table_equals_its_report():
    report = (RESULTS / "probe" / "report.md").read_text()
    expected = _tables(report, "cell | init")
    assert len(expected) == 1 and _tables(README_TEXT(), "cell | init") == expected


def test_memory_tables_equal_their_results_files():
    def joined(*names: str) -> list[str]:  # one README table holding the rows of several results files
        tables = [_tables((RESULTS / f"{n}.md").read_text(), "task | T")[0] for n in names]
        assert all(t[:2] == tables[0][:2] for t in tables), names   # the same columns
        return tables[0][:2] + [row for t in tables for row in t[2:]]

    expected = [joined("memory-bai"), joined("memory-solve-gru", "memory-solve-lstm-rnn"),
                joined("memory-bai-lstm-inits"), joined("memory-inits"),
                joined("memory-solve-T1000-chrono", "memory-solve-T1000-lstm", "memory-solve-T1000-gru"),
                joined("memory-copy-T100-chrono")]
    assert _tables(README_TEXT(), "task | T") == expected


def test_retention_table_equals_summary_json():
    summary = json.loads((RESULTS / "retention" / "summary.json").read_text())
    rows = {_cells(r)[0]: _cells(r)[1:] for r in _tables(README_TEXT(), "model | in-signature @64 / @256 / @1024")[0][2:]}
    for label, entry in summary["cells"].items():
        w32 = entry["w32"]
        expect = [" / ".join(f"{w32['in_signature'][p][0]:.3f}" for p in ("64", "256", "1024")),
                  " / ".join(f"{w32['agreement'][p][0]:.3f}" for p in ("64", "256", "1024")),
                  f"{entry['median_drift']:.0f} notes"]
        assert rows[entry["info"]["spec"]] == expect, label
    ceiling = rows["real tunes (ceiling)"]
    assert ceiling[:2] == [f"{summary['ceiling']['in_signature_w32'][0]:.3f}",
                           f"{summary['ceiling']['agreement_w32'][0]:.3f}"]


def test_polyphonic_table_equals_its_results_files():
    names = {"JSB": "jsb", "Nottingham": "nottingham"}
    cells = {"tanh RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
    rows = [_cells(r) for r in _tables(README_TEXT(), "dataset | cell | ours")[0][2:]]
    assert rows
    for dataset, cell, ours, *_ in rows:
        ds, c = names[dataset], cells[cell]
        single = RESULTS / f"polyphonic-{ds}-{c}.json"   # a later run of one cell supersedes the sweep
        data = json.loads((single if single.is_file() else RESULTS / f"polyphonic-{ds}.json").read_text())
        (result,) = [r for r in data["results"] if r["config"]["cell"] == c]
        assert ours == f"{result['test_nll']:.3f}", (dataset, cell)


def test_speech_table_equals_its_results_file():
    text = (RESULTS / "speech.md").read_text()
    measured = {(_cells(r)[0], _cells(r)[1]): _cells(r)[2].strip("*") for r in _table_rows(text, "data | cell")[2:]}
    rows = [_cells(r) for r in _tables(README_TEXT(), "data | RNN")[0][2:]]
    keys = ["digits.npz", "synth-digits"]
    assert len(rows) == len(keys)
    for key, row in zip(keys, rows):
        assert [v.strip("*") for v in row[1:4]] == [measured[(key, c)] for c in ("rnn", "gru", "lstm")], key


def test_the_tables_reader_finds_every_table_with_a_header():
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| a | c |\n\n| a | b |\n|---|---|\n| 3 | 4 |\n"
    assert _tables(text, "a | b") == [["| a | b |", "|---|---|", "| 1 | 2 |"], ["| a | b |", "|---|---|", "| 3 | 4 |"]]


def test_long_retention_tables_equal_their_reports():
    header = "model | params | in-sig @64 | in-sig @256 | in-sig @1024 | in-sig @4096"
    expected = []
    # plain sampling, min-p 0.05, then the medley runs' second phase with clean and with noisy inputs (min-p
    # 0.05), with noisy inputs and reading their own pitches, and the noisy-input runs played as sets
    for folder, models in (("retention-long", 6), ("retention-long-minp", 6), ("retention-noise", 6),
                           ("retention-self", 6), ("retention-sets", 5), ("retention-drift", 2),
                           ("retention-scratch", 5), ("retention-scratch800", 3), ("retention-keyloss", 4),
                           ("retention-keyloss1", 2), ("retention-lstm-keyloss", 4),
                           ("retention-cells-equal", 3), ("retention-mincells-equal", 2),
                           ("retention-mincells-full", 2)):
        report = (RESULTS / folder / "report.md").read_text()
        expected += _tables(report[report.index("### Windows of 32 notes"):], header)[:1]
        assert len(expected[-1]) == models + 3, folder  # header, rule, the models, the ceiling
    assert _tables(README_TEXT(), header) == expected


def test_state_key_table_equals_its_results_file():
    expected = [table for name, rows in (("state-key.md", 14), ("state-key-keyloss.md", 8))   # header, rule, models
                for table in _tables((RESULTS / name).read_text(), "model | real medleys, tokens 0-256")
                if len(table) == rows]
    assert len(expected) == 2
    assert _tables(README_TEXT(), "model | real medleys, tokens 0-256") == expected


def test_ending_search_table_equals_its_results_file():
    header = "model | tunes | ends on the tonic, sampled"
    expected = _tables((RESULTS / "cadence" / "ending-search.md").read_text(), header)
    assert len(expected) == 1 and _tables(README_TEXT(), header) == expected


def test_register_table_equals_its_results_file():
    header = "tunes | n | outside the band"
    expected = _tables((RESULTS / "register.md").read_text(), header)
    assert len(expected) == 1 and len(expected[0]) == 9 and _tables(README_TEXT(), header) == expected


def test_dance_tables_equal_their_results_file():
    results = (RESULTS / "dances.md").read_text()
    # header, rule, 3 dances; then 3 dances' real tunes (all, and those in the dance's meter), 7 asks x 2 models
    for header, rows in (("dance | tunes | written in", 2 + 3),
                         ("tunes | meter | n | running notes (1/8 of a bar; 1/6 in 6/8)", 2 + 3 * 2 + 2 * 7)):
        expected = _tables(results, header)
        assert len(expected) == 1 and len(expected[0]) == rows and _tables(README_TEXT(), header) == expected


def test_lengths_table_equals_its_results_file():
    header = "tunes | meter | n | bar lines planned: median / 95% / largest | bar lines written"
    expected = _tables((RESULTS / "lengths.md").read_text(), header)
    # header, rule, then real tunes and the two gated models, each in the five commonest meters and the rest
    assert len(expected) == 1 and len(expected[0]) == 2 + 3 * 6 and _tables(README_TEXT(), header) == expected


def test_modal_key_sets_table_equals_its_results_file():
    header = "six keys (their modes) | same signature"
    expected = _tables((RESULTS / "modal-keys.md").read_text(), header)
    # header, rule, the musicality set and the best sets with one and with two modal keys
    assert len(expected) == 1 and len(expected[0]) == 5 and _tables(README_TEXT(), header) == expected


def test_key_keeper_table_equals_its_results_file():
    header = "model | units | they tell the key"
    expected = _tables((RESULTS / "key-keepers.md").read_text(), header)
    # header, rule, the three shipped models
    assert len(expected) == 1 and len(expected[0]) == 5 and _tables(README_TEXT(), header) == expected


def test_key_accuracy_table_equals_its_results_file():
    header = "profile | Essen exact / MIREX"
    expected = _tables((RESULTS / "key-accuracy.md").read_text(), header)
    # header, rule, the six profiles
    assert len(expected) == 1 and len(expected[0]) == 8 and _tables(README_TEXT(), header) == expected


@pytest.mark.parametrize("name,header,tables", [
    ("keys.md", "what | CPU time (median tune)", 1),
    ("tokenizer.md", "tokenizer | encode notes/s", 2),      # without instruments, with them
    ("generate.md", "cell | hidden | params | batch", 1),
    ("demo.md", "stage | seconds", 1),
])
def test_speed_tables_equal_their_results_files(name, header, tables):
    expected = _tables((RESULTS / name).read_text(), header)
    assert len(expected) == tables and _tables(README_TEXT(), header) == expected


def test_key_confusion_table_equals_its_results_file():
    header = "sequences | windows | same | relative"
    expected = [table for name, rows in (("key-confusion.md", 9), ("key-confusion-keyloss.md", 15),
                                         ("key-confusion-keyloss1.md", 9), ("key-confusion-keyloss1-modes.md", 16))
                for table in _tables((RESULTS / name).read_text(), header) if len(table) == rows]
    # header, rule, real tunes (by mode: one row per mode), then 2 (4, 2, 2 x 2 modes) models x 3 places
    assert len(expected) == 4
    assert _tables(README_TEXT(), header) == expected


def test_retention_by_mode_table_equals_its_report():
    header = "sequences | mode | sequences counted"
    report = (RESULTS / "retention-lstm-keyloss" / "report.md").read_text()
    expected = _tables(report[report.index("### Windows of 32 notes in the asked key, by the asked mode"):], header)[:1]
    assert len(expected[0]) == 2 + 4 * 2 + 3   # header, rule, 4 models x 2 modes, real tunes per mode, weighted
    assert _tables(README_TEXT(), header) == expected


def test_retention_seed_tables_equal_their_results_files():
    cells = (RESULTS / "retention-cells-equal-seeds.md").read_text()
    mincells = (RESULTS / "retention-mincells-equal-seeds.md").read_text()
    pooled = _tables(cells, "cell | runs | measure")
    assert len(pooled) == 1 and len(pooled[0]) == 2 + 3 * 2 + 2   # header, rule, 3 cells x 2 measures, real tunes x 2
    assert _tables(README_TEXT(), "cell | runs | measure") == pooled
    runs = _tables(cells, "model | cell | @64") + _tables(mincells, "model | cell | @64")
    assert [len(t) for t in runs] == [2 + 3 * 3, 2 + 2 * 2]           # header, rule, each run (3 cells x 3, 2 x 2)
    assert _tables(README_TEXT(), "model | cell | @64") == runs


ROW_METRICS = {"8-note chunks seen earlier": "repeated_chunks", "4-bar segments seen earlier": "repeated_segments",
               "most times a 1-4 bar passage comes in a row": "passage_loop",
               "whole-piece tonic and mode": "key_exact", "32-note windows in the key": "window_key",
               "whole-piece signature": "key_signature", "notes inside the signature": "in_signature",
               "ends on the tonic": "ends_on_tonic", "pitch range, semitones": "pitch_range",
               "pitch classes used": "pitch_classes"}
"""The musicality rows of the README's comparison tables: row label -> metric of the evaluate report."""
DIGITS = {"in_signature": 3, "pitch_range": 1, "pitch_classes": 1}


def _mean(summary: dict, metric: str) -> str:
    """A metric's mean as the README quotes it."""
    return f"{summary[metric]['mean']:.{DIGITS.get(metric, 2)}f}"


def _rows(table: list[str]):
    """(label, metric, cells) of each body row of a comparison table."""
    for row in table[2:]:
        label, *cells = [c.strip() for c in row.strip("|").split("|")]
        yield label, ROW_METRICS[label], cells


def test_copy_weight_table_equals_its_results_file():
    report = json.loads((RESULTS / "copy-weight" / "evaluate.json").read_text())
    (table,) = _tables(README_TEXT(), "288 tunes, copy weight")
    sets, ref = report["sets"], report["reference"]
    assert all(s["tunes"] == 288 for s in sets)                       # three seeds of the 96-tune recipe
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header == ["288 tunes, copy weight", *(s["name"].removeprefix("folk-").replace("-w", " ") for s in sets),
                      "real tunes"]
    for label, m, cells in _rows(table):
        assert cells == [_mean(t["summary"], m) for t in (*sets, ref)], label
    assert len(table) == 2 + 9


def test_copy_calibration_table_equals_its_results_file():
    report = json.loads((RESULTS / "copy-calibrated" / "evaluate.json").read_text())
    (table,) = _tables(README_TEXT(), "288 tunes | LSTM phase 7")
    names = {s["name"]: s for s in report["sets"]}
    columns = {"LSTM phase 7": "folk-lstm-tonic-copy", "LSTM clean": "folk-lstm-copy-calibrate",
               "LSTM phase 8": "folk-lstm-tonic-copy-self", "GRU phase 7": "folk-gru-tonic-copy",
               "GRU clean": "folk-gru-copy-calibrate", "GRU phase 8": "folk-gru-tonic-copy-self"}
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header == ["288 tunes", *columns, "real tunes"]
    sets = [names[columns[h]] for h in header[1:-1]]
    assert all(s["tunes"] == 288 for s in sets)
    for label, m, cells in _rows(table):
        assert cells == [_mean(t["summary"], m) for t in (*sets, report["reference"])], label
    assert len(table) == 2 + 9


@pytest.mark.parametrize("folder, before, after, header", [
    ("tonic-copy-self", "tonic-copy", "tonic-copy-self", "96 tunes | RNN 7 -> 8"),
    ("tonic-copy-cadence32", "tonic-copy-self", "tonic-copy-cadence32", "96 tunes | RNN 8 -> 9")])
def test_phase_tables_equal_their_results_files(folder, before, after, header):
    report = json.loads((RESULTS / folder / "evaluate.json").read_text())
    sets = {s["name"]: s["summary"] for s in report["sets"]}
    (table,) = _tables(README_TEXT(), header)
    assert len(table) == 2 + 8 and all(s["tunes"] == 96 for s in report["sets"])
    for label, m, cells in _rows(table):
        quoted = [f"{_mean(sets[f'runs-folk-{c}-{before}'], m)} -> {_mean(sets[f'runs-folk-{c}-{after}'], m)}"
                  for c in ("rnn", "lstm", "gru")]
        assert cells == [*quoted, _mean(report["reference"]["summary"], m)], label


def test_cadence_in_the_frame_table_equals_its_results_file():
    report = json.loads((RESULTS / "cadence32-frame" / "evaluate.json").read_text())
    sets = {s["name"]: s for s in report["sets"]}
    (table,) = _tables(README_TEXT(), "288 tunes | LSTM phase 8 | LSTM cadence x32")
    columns = ["runs-folk-lstm-tonic-copy-self", "runs-folk-lstm-tonic-copy-cadence32",
               "runs-folk-gru-tonic-copy-self", "runs-folk-gru-tonic-copy-cadence32"]
    assert all(sets[c]["tunes"] == 288 for c in columns)
    assert len(table) == 2 + 8
    for label, m, cells in _rows(table):
        assert cells == [_mean(t["summary"], m) for t in (*(sets[c] for c in columns), report["reference"])], label


def test_target_table_equals_its_three_results_files():
    sets = {}
    for folder, names in (("musicality", ("folk-lstm", "folk-gru")),
                          ("musicality-96", ("folk-lstm", "folk-gru")),
                          ("musicality-288", ("folk-lstm", "folk-gru"))):
        report = json.loads((RESULTS / folder / "evaluate.json").read_text())
        for cell, name in zip(("lstm", "gru"), names):
            sets.setdefault(cell, []).append(next(s for s in report["sets"] if s["name"] == name)["summary"])
    metric = {"whole-piece key, same signature": ("key_signature", 2), "same tonic and mode": ("key_exact", 2),
              "notes inside the signature": ("in_signature", 3), "bars filled exactly": ("bars_filled", 2),
              "8-note chunks seen earlier": ("repeated_chunks", 2), "ends on the tonic": ("ends_on_tonic", 2),
              "leaps over an octave": ("leap_over_octave", 2), "pitch range within 6 of 14.6": ("pitch_range", 1)}
    (table,) = _tables(README_TEXT(), "target | folk-lstm, 48 / 96 / 288 tunes")
    assert len(table) == 2 + len(metric)
    for row in table[2:]:
        label, *cells = [c.strip() for c in row.strip("|").split("|")]
        name, digits = next(v for k, v in metric.items() if label.startswith(k))
        for cell, text in zip(("lstm", "gru"), cells):
            quoted = text.split(",")[0].split(" / ")
            assert quoted == [f"{s[name]['mean']:.{digits}f}" for s in sets[cell]], (label, cell)
