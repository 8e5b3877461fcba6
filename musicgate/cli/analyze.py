"""``musicgate analyze``: key, in-signature rate and windowed key track of MIDI files."""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

from musicgate.cli.common import command, out_dir, positive_float
from musicgate.analysis.analyze import analyze_path, midi_files, write_report
from musicgate.music.keys import DEFAULT_PROFILE, PROFILE_NAMES, parse_key, profile_name


def register(sub) -> None:
    p = command(sub, "analyze", "key, in-signature rate and windowed key track of MIDI files",
                "musicgate analyze generated/ --profile temperley-kostka-payne",
                'musicgate analyze tune.mid --key "D major" --window 16 --unit beats -o analysis/',
                description="Estimates the key of each MIDI file, the share of its notes in the key signature, "
                "and a\nsliding-window key track; writes CSV, JSON and a PNG per file.")
    p.add_argument("path", type=Path, help="a MIDI file or a folder of MIDI files")
    p.add_argument("--key", help="measure against this key (e.g. 'D major', 'Em', 'Ador'); "
                   "default: the estimated key")
    p.add_argument("--window", type=positive_float, default=32, help="window length (default 32)")
    p.add_argument("--stride", type=positive_float, default=1, help="window step (default 1)")
    p.add_argument("--unit", choices=("notes", "beats"), default="notes",
                   help="window unit (default notes)")
    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"key profile: {', '.join(PROFILE_NAMES)} (default {DEFAULT_PROFILE})")
    p.add_argument("-o", "--output", type=out_dir,
                   help="output folder (default generated/analyze/<name>)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNGs")
    p.set_defaults(func=analyze)


def _fmt(x: float, pct: bool = True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def analyze(args) -> int:
    profile = profile_name(args.profile)  # bad names fail before any file is read
    key = parse_key(args.key) if args.key else None
    files = midi_files(args.path)
    outdir = args.output or Path("generated") / "analyze" / (args.path.stem or "input")
    progress = None
    if not getattr(args, "quiet", False) and sys.stderr.isatty() and len(files) > 1:
        from tqdm import tqdm

        progress = tqdm(total=len(files), unit="file", desc="analyze")
    results, failed = [], []

    def skip(path: Path, exc: Exception) -> None:
        failed.append(path)
        print(f"musicgate: skipped {exc}", file=sys.stderr)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        for res in analyze_path(args.path, key=key, window=args.window, stride=args.stride,
                                unit=args.unit, profile=profile,
                                on_error=skip if len(files) > 1 else None):
            results.append(res)
            if progress is not None:
                progress.update()
    if progress is not None:
        progress.close()
    for w in caught:
        print(f"musicgate: warning: {w.message}", file=sys.stderr)
    from musicgate.viz.keys import plot_analysis

    written = write_report(results, outdir, plot=None if args.no_plot else plot_analysis)
    print(f"{'file':30s} {'notes':>6s} {'key':>10s} {'corr':>6s} {'target':>10s} "
          f"{'in-sig':>7s} {'in-sig(dur)':>11s} {'windows in key':>14s}")
    for r in results:
        s = r.summary()
        print(f"{s['file'][:30]:30s} {s['notes']:6d} {s['key'] or '-':>10s} "
              f"{_fmt(r.correlation, False):>6s} {s['target_key'] or '-':>10s} "
              f"{_fmt(r.in_signature.by_count):>7s} {_fmt(r.in_signature.by_duration):>11s} "
              f"{_fmt(r.window_agreement):>14s}")
    print(f"wrote {written['summary_csv']}, {written['summary_json'].name} and per-file key "
          f"tracks{' and PNGs' if not args.no_plot else ''} in {outdir}")
    if failed:
        print(f"musicgate: {len(failed)} of {len(files)} files could not be read (listed above)",
              file=sys.stderr)
        return 2
    return 0
