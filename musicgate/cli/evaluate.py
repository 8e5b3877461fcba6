"""``musicgate evaluate``: the musicality report of generated tunes beside held-out real tunes."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from musicgate.cli.common import command, nonneg_int, out_dir, positive_int, seed
from musicgate.music.keys import DEFAULT_PROFILE, PROFILE_NAMES


def register(sub) -> None:
    p = command(
        sub, "evaluate", "musicality report: generated tunes beside held-out real tunes",
        "musicgate evaluate generated/",
        "musicgate evaluate out/rnn out/lstm out/gru --reference folk --reference-tunes 100",
        "musicgate evaluate tunebook.abc --no-reference",
        description="Measures MIDI or ABC files (one tune per X:) against the key each was asked in (whole-piece and windowed key, "
        "notes in\nthe key signature, range, leaps, bars filled, grid, repetition, ending, length), beside "
        "real tunes\nmeasured in the same run. Means with bootstrap 95% intervals; writes evaluate.md, "
        "evaluate.json\nand evaluate.png. Each folder given is one column of the table.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="DIR|FILE",
                   help="folders of 'musicgate generate' output (one column each; a folder's ABC files are read when "
                   "it has no MIDI file) or MIDI and ABC files (one column)")
    p.add_argument("--key", help="the asked key of every tune (default: the JSON record 'generate' writes "
                   "beside its files, else the file's key signature or K: field)")
    p.add_argument("--reference", default="folk", metavar="folk|DIR",
                   help="real tunes: a prepared corpus's test split (default folk; 'musicgate data prepare folk' "
                   "first), or a folder of MIDI or ABC files with keys")
    p.add_argument("--reference-tunes", type=nonneg_int, default=200, metavar="N",
                   help="real tunes drawn from the test split (default 200; 0: all)")
    p.add_argument("--no-reference", action="store_true", help="measure the inputs alone")
    p.add_argument("--root", default="datasets", help="where prepared corpora live (default datasets/)")
    p.add_argument("--window", type=positive_int, default=32, metavar="N", help="notes per window of the windowed key (default 32)")
    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"key profile: {', '.join(PROFILE_NAMES)} (default {DEFAULT_PROFILE})")
    p.add_argument("--seed", type=seed, default=0, help="seed of the bootstrap and of the reference draw (default 0)")
    p.add_argument("-o", "--output", type=out_dir, metavar="OUT",
                   help="output folder (default DIR/evaluate, or evaluate/ beside the files)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.set_defaults(func=evaluate_command)


def command_line(args) -> str:
    """The command that reproduces this run, as it is recorded in the report."""
    parts = ["musicgate", "evaluate", *map(str, args.inputs)]
    if args.key:
        parts += ["--key", args.key]
    if args.no_reference:
        parts.append("--no-reference")
    else:
        parts += ["--reference", args.reference]
        if args.reference_tunes != 200:
            parts += ["--reference-tunes", str(args.reference_tunes)]
    for flag, value, default in (("--window", args.window, 32), ("--profile", args.profile, DEFAULT_PROFILE),
                                 ("--seed", args.seed, 0), ("--root", args.root, "datasets")):
        if value != default:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def evaluate_command(args) -> int:
    from musicgate.experiments.evaluate import default_output, evaluate, markdown_table, write_report

    ev = evaluate(args.inputs, key=args.key, reference=None if args.no_reference else args.reference,
                  root=args.root, reference_tunes=args.reference_tunes or None, window=args.window,
                  profile=args.profile, seed=args.seed)
    outdir = args.output or default_output(args.inputs)
    written = write_report(ev, outdir, command=command_line(args), plot=not args.no_plot)
    print(markdown_table(ev))
    for w in ev.warnings:
        print(f"musicgate: warning: {w}", file=sys.stderr)
    tunes = sum(len(s.pieces) for s in ev.sets)
    ref = f" and {len(ev.reference.pieces)} real tunes" if ev.reference else ""
    print(f"measured {tunes} tune(s){ref} in {ev.seconds:.1f} s; wrote "
          f"{', '.join(p.name for p in written.values())} in {outdir}")
    return 0
