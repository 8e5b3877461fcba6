"""Time signatures by name: ``"6/8"`` or a folk dance (``"jig"``), as ``generate`` asks for them.

>>> parse_meter("6/8"), parse_meter("slip jig"), parse_meter("C|")
((6, 8), (9, 8), (2, 2))
"""
from __future__ import annotations

import re

from musicgate.errors import ConfigError

DANCES: dict[str, tuple[int, int]] = {
    "reel": (4, 4), "hornpipe": (4, 4), "strathspey": (4, 4), "barndance": (4, 4),
    "jig": (6, 8), "double jig": (6, 8), "slip jig": (9, 8), "slide": (12, 8),
    "polka": (2, 4), "waltz": (3, 4), "mazurka": (3, 4),
}
"""The usual time signature of each dance of the folk corpora (as written on thesession.org and in
O'Neill's: reels and hornpipes in 4/4, jigs 6/8, slip jigs 9/8, slides 12/8, polkas 2/4)."""
_SYMBOLS = {"c": (4, 4), "c|": (2, 2)}  # ABC's common time and cut time


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
        text = re.sub(r"[\s_-]+", " ", str(value).strip().lower())
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


def meter_name(meter: "tuple[int, int] | None") -> str | None:
    """``"6/8"`` for (6, 8); None for None."""
    return None if meter is None else f"{meter[0]}/{meter[1]}"
