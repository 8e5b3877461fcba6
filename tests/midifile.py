"""Build small Standard MIDI Files byte by byte, readable in a test (pretty_midi's test habit)."""
from __future__ import annotations

import struct


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity (up to 2**28 - 1)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(*tracks: list[tuple[int, bytes]], tpq: int = 480) -> bytes:
    """A format-1 MIDI file; each track is a list of (delta ticks, event bytes)."""
    data = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), tpq)
    for events in tracks:
        body = b"".join(vlq(d) + ev for d, ev in events) + vlq(0) + b"\xff\x2f\x00"
        data += b"MTrk" + struct.pack(">I", len(body)) + body
    return data


def on(pitch: int, vel: int = 90, ch: int = 0) -> bytes:
    return bytes([0x90 | ch, pitch, vel])


def off(pitch: int, ch: int = 0) -> bytes:
    return bytes([0x80 | ch, pitch, 0])
