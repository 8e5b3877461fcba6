"""``musicgate gallery`` and ``musicgate demo``: the classroom page, and the one-command demo."""
from __future__ import annotations

from pathlib import Path

from musicgate.cli.common import command, out_dir, positive_int, seed


def register(sub) -> None:
    p = command(sub, "gallery", "a static HTML page to hear and compare RNN, LSTM and GRU",
                "musicgate gallery",
                'musicgate gallery --model folk-lstm --model runs/my-gru --key "E minor" --retention generated/retention-X',
                description="Piano rolls, key curves, gate views and a comparison from measured numbers, for each model "
                "and key.\nThe page works offline from file:// (media/ and live/ beside index.html; live/ runs the models in the browser).")
    p.add_argument("-o", "--output", type=out_dir, default="generated/gallery",
                   help="folder for index.html, media/ and live/ (default generated/gallery)")
    _sampling_args(p)
    p.add_argument("--length", type=positive_int, default=None,
                   help="most notes of a tune heard (the model ends it); the tunes measured for the numbers have "
                   "exactly this many (default 128)")
    p.add_argument("--num", type=positive_int, default=4,
                   help="tunes per model and key measured for the numbers (plain sampling, "
                   "exactly --length notes); one more is heard (default 4)")
    p.add_argument("--retention", type=Path, default=None, metavar="RUN_DIR",
                   help="a retention run folder whose curves and findings go on the page")
    _speech_args(p)
    p.set_defaults(func=gallery)

    d = command(sub, "demo", "samples, audio, a retention run and the class page in one go",
                "musicgate demo", "musicgate demo --no-retention -o generated/quick-demo",
                description="With the shipped models: samples in three keys, audio, a short retention run and "
                "the gallery page\n(about 1-3 minutes on a laptop CPU). Prints the page's file:// address.")
    d.add_argument("-o", "--output", type=out_dir, default="generated/demo",
                   help="folder for the page, its media and the retention run (default generated/demo)")
    _sampling_args(d)
    d.add_argument("--no-retention", action="store_true", help="skip the short retention run")
    _speech_args(d)
    d.set_defaults(func=demo)


def _sampling_args(p) -> None:
    """--model, --key and --seed, shared by gallery and demo."""
    p.add_argument("--model", action="append", metavar="NAME_OR_PATH",
                   help="a shipped model name or a checkpoint (repeat; default: folk-rnn, folk-lstm, folk-gru)")
    p.add_argument("--key", action="append", metavar="KEY",
                   help="a key to sample in (repeat; default: D major, A minor, G mixolydian)")
    p.add_argument("--seed", type=seed, default=0, help="sampling seed (default 0)")


def _speech_args(p) -> None:
    """--speech and --speech-clip, shared by gallery and demo."""
    p.add_argument("--speech", type=Path, default=None, metavar="RUN",
                   help="a speech run (musicgate speech train -o RUN) shown on the page with its gates "
                   "(default: runs/digits-gru when it exists, else the page says how to make one)")
    p.add_argument("--speech-clip", type=Path, action="append", default=[], metavar="WAV",
                   help="a clip for the speech part (repeat; default: one from the run's own data)")


def _speech(args):
    from musicgate.teach.speechpart import default_run

    return args.speech if args.speech is not None else default_run()


def _keys(args):
    from musicgate.teach.gallery import DEFAULT_KEYS

    return args.key or DEFAULT_KEYS


def gallery(args) -> int:
    from musicgate.teach.gallery import DEFAULT_LENGTH, build_gallery

    index = build_gallery(args.output, models=args.model, keys=_keys(args),
                          length=DEFAULT_LENGTH if args.length is None else args.length, num=args.num,
                          seed=args.seed, retention=args.retention, speech=_speech(args),
                          speech_clips=args.speech_clip, quiet=args.quiet)
    print(f"wrote {index}")
    print(f"open {index.resolve().as_uri()}")
    return 0


def demo(args) -> int:
    from musicgate.teach.demo import run_demo

    result = run_demo(args.output, models=args.model, keys=_keys(args), retention=not args.no_retention,
                      seed=args.seed, speech=_speech(args), speech_clips=args.speech_clip, quiet=args.quiet)
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    for line in result.notes:
        print(f"note: {line}")
    if result.retention is not None:
        print(f"retention report: {result.retention / 'report.md'}")
    print(f"demo done ({parts})")
    print(f"open {result.url}")
    return 0
