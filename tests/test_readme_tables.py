"""The README's result tables are the results files' tables: a fresh run that changes a number
changes the file, and this test then fails until the README says the same."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def test_shipped_models_table_equals_models_json():
    index = json.loads((ROOT / "musicgate" / "pretrained" / "models.json").read_text())
    rows = _table_rows((ROOT / "README.md").read_text(), "model")[2:]
    quoted = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[3:7]] for r in rows}
    for name, entry in index.items():
        assert quoted[name] == [str(entry["hidden"]), f"{entry['params']:,}", f"{entry['valid_nll_per_note']:.3f}",
                                f"{entry['valid_nll_per_token']:.3f}"], name


def test_the_table_reader_reads_tables():
    text = "x\n| measure | a |\n|---|---|\n| one | 1 |\n\nafter"
    assert _table_rows(text, "measure") == ["| measure | a |", "|---|---|", "| one | 1 |"]
