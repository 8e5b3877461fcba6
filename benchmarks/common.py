"""Helpers shared by the benchmarks: where the data is, timing, tables, the machine."""
from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CACHE = Path(os.environ.get("MUSICGATE_BENCH_CACHE", Path.home() / ".cache" / "musicgate-bench"))

MUSICALITY_KEYS = ("D major", "G major", "A minor", "E minor", "A dorian", "D mixolydian")
"""The six keys of ``scripts/musicality.sh``, in its order."""


def key_seed(seed: int, place: int, keys: int = len(MUSICALITY_KEYS)) -> int:
    """Generate's seed for key number ``place`` of ``keys`` in a set drawn with ``seed`` (as
    ``scripts/musicality.sh``: ``keys * seed + place``). The shipped models compute in the tonic's
    frame, so one seed for every key gives the same tunes transposed; this gives each key its own."""
    return keys * seed + place


def dur_tokens(tok):
    """(DUR token ids, their lengths in grid steps) of a melody tokenizer: DUR_1 .. DUR_max, in a row."""
    import numpy as np

    steps = np.arange(1, tok.max_steps + 1)
    return tok.dur_base + steps - 1, steps


@contextlib.contextmanager
def patched(owner, name: str, wrap):
    """Within the block, ``owner.name`` is ``wrap(original)``; restored afterwards, on errors too (the
    what-if scripts' way to change one method of the library, never an option of it)."""
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def best_time(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def machine() -> str:
    """One line naming the CPU and core count."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(header: list[str], rows: list[list]) -> str:
    """A markdown table."""
    fmt = lambda v: f"{v:,.0f}" if isinstance(v, float) and abs(v) >= 100 else (f"{v:.3g}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def chorale_midis() -> list[Path]:
    """The Bach chorales of music21's corpus, exported to MIDI once (cached)."""
    out = CACHE / "chorales"
    done = out / "COMPLETE"
    if not done.exists():
        import music21

        from musicgate.music.midi import write_midi
        from musicgate.music.score import from_music21

        out.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(music21.corpus.getComposer("bach")):
            try:
                notes = from_music21(music21.converter.parse(path))
            except Exception as exc:  # a corpus file music21 cannot parse is reported, not hidden
                print(f"skipped {path.name}: {type(exc).__name__}")
                continue
            if len(notes):
                write_midi(notes, out / f"{i:03d}_{path.stem}.mid")
        done.write_text("ok\n")
    return sorted(out.glob("*.mid"))


def teacher_forced_args(parser, *, tunes: int, default_models: str) -> None:
    """The options of the scripts that read held-out folk tunes teacher-forced (endings, copying)."""
    parser.add_argument("--model", action="append", help=f"shipped name or checkpoint (repeat; default {default_models})")
    parser.add_argument("--tunes", type=int, default=tunes,
                        help=f"held-out tunes drawn from the test split (seed 0; 0: all; default {tunes})")
    parser.add_argument("--data", default="datasets/folk", help="prepared folk corpus (musicgate data prepare folk)")
    parser.add_argument("-o", "--output", type=Path, help="also write the table here")


def teacher_forced_command(script: str, args, parser) -> str:
    """The command line that reruns a teacher-forced script as it was run (``--model`` and ``--tunes``
    where given), for its results table."""
    return " ".join([f"python benchmarks/{script}", *(f"--model {n}" for n in args.model or []),
                     *([f"--tunes {args.tunes}"] if args.tunes != parser.get_default("tunes") else [])])


def teacher_forced_setup(doc: str, *, tunes: int, default_models: str):
    """(parser, args, the prepared corpus, the held-out tunes) of a teacher-forced script: its options
    (:func:`teacher_forced_args`, described by the first line of ``doc``) parsed and the tunes drawn."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    teacher_forced_args(parser, tunes=tunes, default_models=default_models)
    args = parser.parse_args()
    return (parser, args, *held_out_tunes(args))


def held_out_tunes(args):
    """(the prepared corpus, the test tunes drawn as ``--tunes`` asks), with torch on one thread."""
    import numpy as np
    import torch

    from musicgate.data.prepared import open_dataset

    torch.set_num_threads(1)
    data = open_dataset(args.data)
    tunes = data.splits["test"]
    if 0 < args.tunes < len(tunes):
        tunes = np.sort(np.random.default_rng(0).choice(tunes, args.tunes, replace=False))
    return data, tunes


def emit_table(text: str, output: "Path | None") -> None:
    """Print a results table and, given ``output``, write it there atomically (its folder made)."""
    from musicgate.files import atomic_write_text

    print(text, end="" if text.endswith("\n") else "\n")
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output, text)
