"""Progress of long jobs, with a rate: a tqdm bar on a terminal, plain lines in a log, nothing when quiet.

:func:`progress` is the one helper every job longer than a few seconds uses. On a terminal it is a
tqdm bar; when stderr is a file or a pipe (CI, ``nohup``, ``2> log``) a bar's carriage returns
would make one unreadable line, so it prints a plain line at most every ``every`` seconds, and one
at the end: ``train gru: 12/30 epoch (40%), 1.85 epoch/s, 6 s, loss=0.412``.
"""
from __future__ import annotations

import sys
import time
from typing import IO, Iterable, Iterator


class PlainProgress:
    """The plain-line stand-in for a tqdm bar (the parts of tqdm's interface the jobs use)."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", every: float = 5.0, file: IO[str] | None = None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.file = file if file is not None else sys.stderr
        self.n, self.postfix = 0, ""
        self.start = self._last = time.perf_counter()
        self._closed = False

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update()
        self.close()

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._line(now)

    def line(self) -> str:
        """The current state as one line (count, share, rate, elapsed time, postfix)."""
        return self._text(time.perf_counter())

    def _text(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        rate = self.n / elapsed
        rate_text = f"{rate:.2f} {self.unit}/s" if rate >= 1 or self.n == 0 else f"{1 / rate:.1f} s/{self.unit}"
        text = f"{self.desc + ': ' if self.desc else ''}{count} {self.unit}{share}, {rate_text}, {elapsed:.0f} s"
        return text + (f", {self.postfix}" if self.postfix else "")

    def _line(self, now: float) -> None:
        print(self._text(now), file=self.file, flush=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.n:
                self._line(time.perf_counter())


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             quiet: bool = False, every: float = 5.0, leave: bool = True, file: IO[str] | None = None):
    """A progress display for a loop: tqdm on a terminal, plain lines otherwise, nothing when quiet.

    Parameters
    ----------
    iterable : what to loop over (or None, and call ``update()`` yourself).
    total : number of items (default ``len(iterable)``).
    desc, unit : the label and the unit of the rate (``epoch`` gives ``epoch/s``).
    quiet : show nothing (``musicgate -q``).
    every : seconds between plain lines when stderr is not a terminal.
    leave : keep the tqdm bar on screen when done.
    file : where to write (default stderr).

    Returns
    -------
    A tqdm bar, a :class:`PlainProgress`, or a disabled tqdm bar: each iterates over ``iterable``
    and has ``update``, ``set_postfix`` and ``close``.
    """
    from tqdm.auto import tqdm

    stream = file if file is not None else sys.stderr
    if quiet:
        return tqdm(iterable, total=total, disable=True)
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True, file=stream)
    return PlainProgress(iterable, total=total, desc=desc, unit=unit, every=every, file=stream)


__all__ = ["progress", "PlainProgress"]
