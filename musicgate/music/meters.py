"""Time signatures by name: ``"6/8"`` or a folk dance (``"jig"``), as ``generate`` asks for them.

>>> parse_meter("6/8"), parse_meter("slip jig"), parse_meter("C|")
((6, 8), (9, 8), (2, 2))
"""
from __future__ import annotations

import re

from musicgate.errors import ConfigError

DANCES: dict[str, tuple[int, int]] = {
    "reel": (2, 2), "hornpipe": (2, 2), "clog": (2, 2), "highland fling": (2, 2),
    "strathspey": (4, 4), "barndance": (4, 4),
    "jig": (6, 8), "double jig": (6, 8), "slip jig": (9, 8), "slide": (12, 8),
    "polka": (2, 4), "waltz": (3, 4), "mazurka": (3, 4),
}
"""Each dance's time signature as the folk corpus writes it, which is what the models learned it by:
O'Neill's and Ryan's write reels, hornpipes, clogs and flings in cut time (``M:C|``, 2/2; 442 reels,
2 in 4/4), strathspeys in ``M:C`` (4/4), jigs in 6/8, slip jigs in 9/8 (``python
benchmarks/dances.py``). thesession.org writes reels in 4/4, but asked for 4/4 the models write the
corpus's 4/4 tunes, nine in ten of them Essen songs: 0.34-0.38 of their notes running quavers, rests
between phrases, repeat signs in 0.12-0.35 of tunes; in 2/2 they write reels (0.67-0.75 running quavers,
nearly no rests, repeat signs in 0.88-0.96)."""
_SYMBOLS = {"c": (4, 4), "c|": (2, 2)}  # ABC's common time and cut time

DANCE_PLANS: dict[str, dict[int, int]] = {
    "reel": {9: 6, 10: 3, 12: 28, 13: 2, 14: 31, 15: 9, 16: 101, 17: 66, 18: 113, 19: 39, 20: 6, 21: 2, 22: 4,
             23: 3, 24: 5, 25: 8, 26: 2, 27: 3},
    "hornpipe": {16: 2, 17: 7, 18: 10, 19: 151, 20: 6, 21: 6, 22: 3, 23: 2, 27: 5, 29: 4, 39: 5},
    "jig": {14: 2, 16: 20, 17: 40, 18: 105, 19: 197, 20: 8, 21: 9, 22: 9, 23: 22, 24: 8, 25: 2, 26: 7, 27: 11,
            28: 4, 29: 10, 32: 6, 36: 5, 48: 2},
    "slip jig": {9: 14, 10: 5, 11: 8, 12: 21, 13: 5, 14: 14, 16: 7, 17: 4, 18: 9, 19: 2, 23: 2, 29: 2},
    "strathspey": {16: 7, 17: 3, 18: 32, 19: 2},
    "clog": {18: 2, 19: 23, 21: 4},
}
"""Bar lines (as the melody tokens count them, repeat signs and endings included) -> tunes, of the folk
corpus's tunes of each dance (O'Neill's and Ryan's ``R:`` field) written in its :data:`DANCES` meter,
counts of 2 tunes or more, for dances with 20 tunes or more (``python benchmarks/dances.py --plans``).
``generate`` draws a tune's bar plan from them when a dance is asked for by name, so that a jig gets a
jig's length and form (16 bars in two repeated parts, 17-19 bar lines with the pickup), not that of the
Essen songs in 6/8 that make up half of the corpus's 6/8 tunes."""


DANCE_LABELS: tuple[str, ...] = ("reel", "hornpipe", "jig", "slip jig", "strathspey", "clog", "air", "song")
"""The kinds of tune ``data prepare`` records for each folk tune (its manifest's ``dance``; ``data info``
counts them): the dances of O'Neill's and Ryan's ``R:`` fields with 30 tunes or more (reel 714, jig 514
with the double jigs, hornpipe 462, slip jig 94, strathspey 49, clog 37, air 33), and ``song`` for every
tune of the Essen collection (its ``R:`` fields name song genres)."""
_RHYTHMS = {"double jig": "jig", "slipjig": "slip jig"}


def dance_of(rhythm: str, *, song: bool = False) -> str | None:
    """The :data:`DANCE_LABELS` name of an ABC ``R:`` field (``"Double Jig"`` -> ``"jig"``), ``"song"`` for
    a song collection's tune (``song``), None for anything else.

    >>> dance_of("SlipJig"), dance_of("waltz"), dance_of("Ballade", song=True)
    ('slip jig', None, 'song')
    """
    if song:
        return "song"
    text = _words(rhythm)
    text = _RHYTHMS.get(text, text)
    return text if text in DANCE_LABELS else None


def _words(value) -> str:
    """A name as :data:`DANCES` keys it: lower case, words split by one space (``"Slip_Jig"`` -> ``"slip jig"``)."""
    return re.sub(r"[\s_-]+", " ", str(value).strip().lower())


def parse_meter(value: "str | tuple[int, int]") -> tuple[int, int]:
    """(numerator, denominator) of a time signature given as ``"6/8"``, ``(6, 8)``, ABC's ``C`` and
    ``C|``, or a dance name from :data:`DANCES` (``"jig"``, ``"slip-jig"``; any case).

    Raises
    ------
    ConfigError
        For anything else, with the forms that are understood.
    """
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(x, int) for x in value):
        num, den = value
    else:
        text = _words(value)
        if text in DANCES:
            return DANCES[text]
        if text in _SYMBOLS:
            return _SYMBOLS[text]
        match = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{1,2})", text)
        if not match:
            raise ConfigError(f"time signature {value!r} is not understood; give it as 6/8 (numerator/"
                              f"denominator), C or C|, or a dance: {', '.join(DANCES)}")
        num, den = int(match[1]), int(match[2])
    if num < 1 or den not in (1, 2, 4, 8, 16, 32):
        raise ConfigError(f"time signature {num}/{den} is not one: the numerator counts beats (1 or more) and "
                          f"the denominator is 1, 2, 4, 8, 16 or 32")
    return int(num), int(den)


def dance_plan(dance: str | None) -> dict[int, int] | None:
    """The bar-line counts a dance's plans are drawn from (a double jig's are the jigs'), or None."""
    return DANCE_PLANS.get("jig" if dance == "double jig" else dance or "")


def dance_name(value: "str | tuple[int, int] | None") -> str | None:
    """The dance a time signature was asked for by (``"Slip-Jig"`` -> ``"slip jig"``), or None."""
    if value is None or isinstance(value, tuple):
        return None
    text = _words(value)
    return text if text in DANCES else None


def meter_name(meter: "tuple[int, int] | None") -> str | None:
    """``"6/8"`` for (6, 8); None for None."""
    return None if meter is None else f"{meter[0]}/{meter[1]}"
