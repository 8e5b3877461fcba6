"""``musicgate speech train|eval|predict``: spoken-word recognition with the recurrent core."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from musicgate.cli.common import (check_layer, device, fraction, out_dir, out_file, positive_float, positive_int,
                                  seed)
from musicgate.errors import CheckpointError, DataError, OutputError
from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.nn.cells import cell_names

DATA_HELP = ("PATH.npz (digits.npz layout, stratified 50/50), fsdd:DIR (official split), "
             "commands:DIR (Speech Commands lists) or synth-digits (eSpeak NG, held-out voices)")


def register(sub) -> None:
    speech = sub.add_parser("speech", help="recognize spoken words (digits) with RNN / GRU / LSTM")
    cmds = speech.add_subparsers(dest="speech_command", metavar="SPEECH_COMMAND", required=True)

    p = cmds.add_parser("train", help="train a classifier, evaluate it on the test split, save RUN/")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--cell", choices=cell_names(), default="gru")
    p.add_argument("--hidden", type=positive_int, default=64)
    p.add_argument("--layers", type=positive_int, default=1)
    p.add_argument("--dropout", type=fraction, default=0.0)
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=3e-3)
    p.add_argument("--seed", type=seed, default=0, help="seeds the split (npz, synth) and training")
    p.add_argument("--holdout-speaker", help="fsdd:DIR only: leave this speaker out as the test set")
    p.add_argument("--features", choices=("mfcc", "logmel"), default="mfcc",
                   help="WAV front end (ignored for precomputed .npz)")
    p.add_argument("--normalize", choices=("none", "mean", "meanvar"), default="mean")
    p.add_argument("--no-deltas", action="store_true", help="no deltas / delta-deltas")
    p.add_argument("--cache-dir", type=Path, help="synth-digits cache (default $MUSICGATE_CACHE "
                   "or ~/.cache/musicgate)")
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("-o", "--output", type=out_dir, required=True, help="run folder to write (new, empty or an earlier speech run)")
    p.set_defaults(func=train)

    p = cmds.add_parser("eval", help="accuracy, per-class report and confusion PNG of a trained RUN")
    p.add_argument("run", type=Path, help="run folder (or its model.pt)")
    p.add_argument("--data", help="default: the run's own test split. " + DATA_HELP)
    p.add_argument("--holdout-speaker")
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--png", type=out_file, help="confusion PNG (default RUN/confusion-eval.png)")
    p.set_defaults(func=evaluate_run)

    p = cmds.add_parser("predict", help="label of one WAV clip, with its probability")
    p.add_argument("run", type=Path, help="run folder (or its model.pt)")
    p.add_argument("file", type=Path, help="audio clip (WAV)")
    p.add_argument("--stream", action="store_true", help="also print the running label frame by frame")
    p.set_defaults(func=predict_file)

    p = cmds.add_parser("gates", help="gate view of a trained RUN on one WAV clip (log-mel under the gates)")
    p.add_argument("run", type=Path, help="a run folder of 'musicgate speech train'")
    p.add_argument("wav", type=Path)
    p.add_argument("-o", "--output", type=out_dir, default="generated/speech-gates")
    p.add_argument("--layer", type=int, default=-1)
    p.set_defaults(func=gates_file)


def _progress(args) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _checkpoint_path(run: Path) -> Path:
    return run / "model.pt" if run.is_dir() else run


def _feature_config(args):
    from musicgate.speech.features import FeatureConfig

    return FeatureConfig(kind=args.features, normalize=args.normalize, deltas=not args.no_deltas)


def train(args) -> int:
    from musicgate.speech import classify
    from musicgate.speech.sources import features_for_spec, load_spec

    _check_run_folder(args.output)
    config = _feature_config(args)
    split = load_spec(args.data, config=config, seed=args.seed, holdout_speaker=args.holdout_speaker,
                      cache_dir=args.cache_dir, progress=_progress(args))
    print(f"data: {split.description}: {len(split.train)} train, {len(split.test)} test clips, "
          f"{split.train.dim} values per frame")
    started = time.perf_counter()
    result = classify.train_classifier(
        split.train, cell=args.cell, hidden=args.hidden, layers=args.layers, dropout=args.dropout,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
        progress=_progress(args))
    seconds = time.perf_counter() - started
    ev = classify.evaluate(result.model, split.test)
    out = args.output
    feats = features_for_spec(args.data, config)
    settings = {"data": args.data, "split": split.description, "seed": args.seed,
                "holdout_speaker": args.holdout_speaker, "cell": args.cell, "hidden": args.hidden,
                "layers": args.layers, "dropout": args.dropout, "epochs": args.epochs,
                "batch_size": args.batch_size, "lr": args.lr,
                "features": feats.to_dict() if feats else None,
                "engine": split.train.info.get("engine")}
    metrics = {"test_accuracy": ev.accuracy, "train_clips": len(split.train), "test_clips": len(split.test),
               "final_loss": result.history[-1]["loss"], "final_train_accuracy": result.history[-1]["train_acc"],
               "train_seconds": round(seconds, 1), "parameters": _count_params(result.model)}
    classify.save_checkpoint(out / "model.pt", result.model, label_names=split.train.label_names,
                             features=settings["features"], extra={"settings": settings, "metrics": metrics})
    atomic_write_json(out / "config.json", settings)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "history.json", result.history)
    atomic_write_text(out / "report.txt", ev.report() + "\n")
    classify.plot_confusion(ev.confusion, ev.label_names, out / "confusion.png",
                            title=f"{args.cell} {args.hidden}: {100 * ev.accuracy:.1f}% on {args.data}")
    print(ev.report())
    print(f"{args.cell} test accuracy {100 * ev.accuracy:.2f}% ({len(split.test)} clips); wrote {out}/")
    return 0


SPEECH_RUN_FILES = {"model.pt", "config.json", "metrics.json", "history.json", "report.txt", "confusion.png",
                    "confusion-eval.png"}


def _check_run_folder(out: Path) -> None:
    """Refuse an output folder that holds anything but an earlier speech run (a music run, say)."""
    if not out.is_dir():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in SPEECH_RUN_FILES and not p.name.startswith("."))
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise OutputError(f"{out} holds files that are not from 'musicgate speech train' ({shown}); "
                          "give a new or empty folder with -o")


def evaluate_run(args) -> int:
    from musicgate.speech import classify
    from musicgate.speech.sources import load_spec
    from musicgate.speech.features import FeatureConfig

    model, ckpt = classify.load_checkpoint(_checkpoint_path(args.run))
    settings = ckpt["extra"].get("settings", {})
    spec = args.data or settings.get("data")
    if not spec:
        raise CheckpointError(f"{args.run}: the checkpoint does not name its data; pass --data")
    feats = ckpt["features"]
    if feats is None and not (spec.endswith(".npz") or spec.startswith("npz:")):
        raise DataError(f"{args.run} was trained on precomputed .npz features; evaluate it on a .npz")
    config = FeatureConfig.from_dict(feats) if feats else FeatureConfig()
    holdout = args.holdout_speaker if args.data else settings.get("holdout_speaker")
    split = load_spec(spec, config=config, seed=int(settings.get("seed", 0)), holdout_speaker=holdout,
                      cache_dir=args.cache_dir, progress=_progress(args))
    if tuple(split.test.label_names) != tuple(ckpt["label_names"]):
        raise DataError(f"{spec} has labels {list(split.test.label_names)} but the model knows "
                        f"{ckpt['label_names']}")
    if split.test.dim != model.model_args["input_size"]:
        raise DataError(f"{spec} has {split.test.dim} values per frame, the model takes "
                        f"{model.model_args['input_size']}")
    ev = classify.evaluate(model, split.test)
    run_dir = args.run if args.run.is_dir() else args.run.parent
    png = args.png or run_dir / "confusion-eval.png"
    classify.plot_confusion(ev.confusion, ev.label_names, png,
                            title=f"{model.cell}: {100 * ev.accuracy:.1f}% on {spec}")
    print(f"data: {split.description}")
    print(ev.report())
    print(f"test accuracy {100 * ev.accuracy:.2f}% ({len(split.test)} clips); confusion: {png}")
    return 0


def predict_file(args) -> int:
    from musicgate.speech import classify
    from musicgate.speech.features import FeatureConfig, file_features

    model, ckpt = classify.load_checkpoint(_checkpoint_path(args.run))
    if ckpt["features"] is None:
        raise CheckpointError(f"{args.run} was trained on precomputed digits.npz features whose front end "
                              "is not recorded; train on fsdd:DIR or synth-digits to predict WAV files")
    feats = file_features(args.file, FeatureConfig.from_dict(ckpt["features"]), require_speech=True)
    names = ckpt["label_names"]
    probs = classify.predict(model, [feats])[0]
    if args.stream:
        for t, p in enumerate(classify.stream(model, feats)):
            k = int(np.argmax(p))
            print(f"frame {t + 1:4d}  {names[k]}  p={p[k]:.3f}")
    k = int(np.argmax(probs))
    print(f"{names[k]}\tp={probs[k]:.3f}\t{args.file}")
    return 0


def _count_params(model) -> int:
    from musicgate.nn.models import count_params

    return count_params(model)


def gates_file(args) -> int:
    from musicgate.speech import classify
    from musicgate.speech.plots import speech_gate_pictures

    model, _ = classify.load_checkpoint(_checkpoint_path(args.run))
    check_layer(args.layer, int(model.model_args["layers"]), where=str(args.run))
    res = speech_gate_pictures(args.run, args.wav, args.output, layer=args.layer)
    print(f"{args.wav}: heard {res['label']} (p={res['probability']:.3f}) -> {res['path']}")
    return 0
