"""``musicgate speech train|eval|predict|gates``: spoken-word recognition with the recurrent core.

Parsing only: each sub-command calls one function of :mod:`musicgate.speech.run`.
"""
from __future__ import annotations

from pathlib import Path

from musicgate.cli.common import command, device, output_alias, fraction, out_dir, out_file, positive_float, positive_int, seed
from musicgate.nn.cells import cell_names
from musicgate.speech.features import KINDS, NORMALIZE, FeatureConfig

DATA_HELP = ("PATH.npz (digits.npz layout, stratified 50/50), fsdd:DIR (official split), "
             "commands:DIR (Speech Commands lists) or synth-digits (eSpeak NG, held-out voices)")


def register(sub) -> None:
    speech = command(sub, "speech", "recognize spoken words (digits) with RNN / GRU / LSTM",
                     "musicgate speech train --data synth-digits --cell gru -o runs/digits-gru",
                     "musicgate speech predict runs/digits-gru seven.wav",
                     description="Train a spoken-digit classifier on the same recurrent cores as the music "
                     "models, test it,\npredict clips frame by frame, and draw its gates under the spectrogram.")
    cmds = speech.add_subparsers(dest="speech_command", metavar="SPEECH_COMMAND", required=True)

    p = command(cmds, "train", "train a classifier, evaluate it on the test split, save the run folder",
                "musicgate speech train --data synth-digits --cell gru -o runs/digits-gru",
                "musicgate speech train --data fsdd:free-spoken-digit-dataset/recordings --cell lstm -o runs/fsdd-lstm",
                description="Writes model.pt, config.json, metrics.json, history.json (one row per epoch), "
                "report.txt\n(per-class precision and recall) and confusion.png into the run folder.")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--cell", choices=cell_names(), default="gru", help="recurrent cell")
    p.add_argument("--hidden", type=positive_int, default=64, help="units per layer")
    p.add_argument("--layers", type=positive_int, default=1, help="stacked recurrent layers")
    p.add_argument("--dropout", type=fraction, default=0.0, help="dropout between layers, in [0, 1)")
    p.add_argument("--epochs", type=positive_int, default=30, help="passes over the training clips")
    p.add_argument("--batch-size", type=positive_int, default=32, help="clips per Adam step")
    p.add_argument("--lr", type=positive_float, default=3e-3, help="Adam learning rate (halved for the last third)")
    p.add_argument("--seed", type=seed, default=0, help="seeds the split (npz, synth) and training")
    p.add_argument("--holdout-speaker", help="fsdd:DIR only: leave this speaker out as the test set")
    p.add_argument("--features", choices=KINDS, default=FeatureConfig.kind,
                   help="WAV front end (ignored for precomputed .npz)")
    p.add_argument("--normalize", choices=NORMALIZE, default=FeatureConfig.normalize,
                   help="per-clip normalisation of the features")
    p.add_argument("--no-deltas", action="store_true", help="no deltas / delta-deltas")
    p.add_argument("--cache-dir", type=Path, help="synth-digits cache (default $MUSICGATE_CACHE "
                   "or ~/.cache/musicgate)")
    p.add_argument("--device", type=device, default="cpu", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("-o", "--output", type=out_dir, required=True,
                   help="run folder to write (new, empty or an earlier speech run)")
    p.set_defaults(func=train)

    p = command(cmds, "eval", "accuracy, per-class report and confusion PNG of a trained run",
                "musicgate speech eval runs/digits-gru",
                "musicgate speech eval runs/digits-gru --data fsdd:recordings --holdout-speaker theo",
                description="Without --data, the run's own test split (same seed, same held-out speaker).")
    p.add_argument("run", type=Path, help="run folder (or its model.pt)")
    p.add_argument("--data", help="data to test on (default: the run's own test split): " + DATA_HELP)
    p.add_argument("--holdout-speaker", help="with --data fsdd:DIR: test on this speaker")
    p.add_argument("--cache-dir", type=Path, help="synth-digits cache (default $MUSICGATE_CACHE "
                   "or ~/.cache/musicgate)")
    p.add_argument("-o", "--output", type=out_file, help="confusion PNG to write (default RUN/confusion-eval.png)")
    output_alias(p, "--png", type=out_file)
    p.set_defaults(func=evaluate_run)

    p = command(cmds, "predict", "label of one WAV clip, with its probability",
                "musicgate speech predict runs/digits-gru seven.wav",
                "musicgate speech predict runs/digits-gru seven.wav --stream",
                description="Prints LABEL<tab>p=PROBABILITY<tab>FILE; with --stream, first the running guess "
                "after every 10 ms frame.")
    p.add_argument("run", type=Path, help="run folder (or its model.pt)")
    p.add_argument("file", type=Path, help="audio clip (WAV)")
    p.add_argument("--stream", action="store_true", help="also print the running label frame by frame")
    p.set_defaults(func=predict_file)

    p = command(cmds, "gates", "gate view of a trained run on one WAV clip (log-mel under the gates)",
                "musicgate speech gates runs/digits-gru seven.wav -o generated/speech-gates",
                description="Draws the clip's log-mel spectrogram, the gates and state of the chosen layer "
                "under it,\nand the running guess at the bottom, on one time axis.")
    p.add_argument("run", type=Path, help="a run folder of 'musicgate speech train'")
    p.add_argument("wav", type=Path, help="audio clip (WAV)")
    p.add_argument("-o", "--output", type=out_dir, default="generated/speech-gates", help="folder for the PNG")
    p.add_argument("--layer", type=int, default=-1, help="layer shown (-1: the last)")
    p.set_defaults(func=gates_file)


def _progress(args) -> bool:
    return not getattr(args, "quiet", False)


def train(args) -> int:
    from musicgate.speech.run import train_run

    run = train_run(args.data, output=args.output, cell=args.cell, hidden=args.hidden, layers=args.layers,
                    dropout=args.dropout, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                    seed=args.seed, holdout_speaker=args.holdout_speaker, features=args.features,
                    normalize=args.normalize, deltas=not args.no_deltas, cache_dir=args.cache_dir,
                    device=args.device, progress=_progress(args), log=print)
    print(run.report)
    print(f"{args.cell} test accuracy {100 * run.accuracy:.2f}% ({run.test_clips} clips); wrote {run.output}/")
    return 0


def evaluate_run(args) -> int:
    from musicgate.speech.run import evaluate_run as evaluate

    ev = evaluate(args.run, data=args.data, holdout_speaker=args.holdout_speaker, cache_dir=args.cache_dir,
                  png=args.output, progress=_progress(args))
    print(f"data: {ev.split}")
    print(ev.report)
    print(f"test accuracy {100 * ev.accuracy:.2f}% ({ev.test_clips} clips); confusion: {ev.png}")
    return 0


def predict_file(args) -> int:
    from musicgate.speech.run import predict_file as predict

    pred = predict(args.run, args.file, stream=args.stream)
    for t, (label, p) in enumerate(pred.frames):
        print(f"frame {t + 1:4d}  {label}  p={p:.3f}")
    print(f"{pred.label}\tp={pred.probability:.3f}\t{args.file}")
    return 0


def gates_file(args) -> int:
    from musicgate.speech.run import gates_file as gates

    res = gates(args.run, args.wav, args.output, layer=args.layer)
    print(f"{args.wav}: heard {res['label']} (p={res['probability']:.3f}) -> {res['path']}")
    return 0
