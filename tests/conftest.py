"""Shared fixtures: the real data in ../shared/ (read in place, never copied into the repo)."""
from __future__ import annotations

import os
from pathlib import Path

# One torch thread per test process: the suite runs on 2 cores beside other work, and
# oversubscribed torch threads made small models an order of magnitude slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests read the real files in ../shared/ beside the checkout")
    return path


@pytest.fixture
def shared_midi() -> Path:
    """The folder of 30 real MIDI files."""
    return shared_path("midi")
