"""``musicgate.progress``: a bar on a terminal, plain lines with a rate in a log, nothing when quiet."""
from __future__ import annotations

import io

from musicgate.progress import PlainProgress, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal_with_count_rate_and_postfix():
    log = io.StringIO()
    bar = progress(range(4), desc="train gru", unit="epoch", every=0.0, file=log)
    assert isinstance(bar, PlainProgress)
    seen = []
    for i in bar:
        seen.append(i)
        bar.set_postfix(loss=f"{1.0 / (i + 1):.3f}")
    assert seen == [0, 1, 2, 3]
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0].startswith("train gru: 1/4 epoch (25%), ")
    assert lines[-1].startswith("train gru: 4/4 epoch (100%), ") and lines[-1].endswith("loss=0.250")
    assert all(("epoch/s" in line) or ("s/epoch" in line) for line in lines)


def test_plain_lines_are_throttled_but_the_last_is_always_printed():
    log = io.StringIO()
    for _ in progress(range(1000), desc="clips", unit="clip", every=3600.0, file=log):
        pass
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clips: 1000/1000 clip (100%)")


def test_quiet_prints_nothing_and_still_iterates():
    log, term = io.StringIO(), Terminal()
    assert list(progress(range(3), quiet=True, file=log)) == [0, 1, 2]
    assert list(progress(range(3), quiet=True, file=term)) == [0, 1, 2]
    assert log.getvalue() == term.getvalue() == ""


def test_a_terminal_gets_a_tqdm_bar_with_a_rate():
    term = Terminal()
    bar = progress(range(3), desc="train", unit="epoch", file=term)
    assert not isinstance(bar, PlainProgress)
    assert list(bar) == [0, 1, 2]
    assert "train" in term.getvalue() and "3/3" in term.getvalue() and "epoch/s" in term.getvalue()


def test_manual_updates_without_an_iterable():
    log = io.StringIO()
    with progress(total=10, desc="tunes", unit="tune", every=0.0, file=log) as bar:
        bar.update(4)
        bar.update(6)
    assert log.getvalue().splitlines()[-1].startswith("tunes: 10/10 tune (100%)")
