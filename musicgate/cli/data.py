"""``musicgate data prepare|info``: build and inspect cached token datasets."""
from __future__ import annotations

import json

from musicgate.cli.common import command, out_dir, positive_int, seed
from musicgate.data.corpora import load_prepared, prepare, summary
from musicgate.data.corpus import corpus_specs
from musicgate.tokens.tokenizer import TOKENIZERS


def register(sub) -> None:
    data = command(sub, "data", "prepare and inspect token datasets",
                   "musicgate data prepare folk", "musicgate data info folk",
                   description="prepare: parse, label, tokenize, split and cache a corpus under datasets/; "
                   "info: what a prepared dataset holds.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = command(dsub, "prepare", "parse, label, tokenize, split and cache a corpus",
                "musicgate data prepare folk", "musicgate data prepare midi:../shared/midi --vocab event --limit 100",
                description="Writes datasets/NAME/ (tokens, splits, manifest). A second run with the same "
                "sources and settings\nreuses the cache; two runs at once build it once.")
    p.add_argument("corpus", help=f"one of {', '.join(corpus_specs())}")
    p.add_argument("--vocab", choices=sorted(TOKENIZERS), help="tokenizer (default: melody for folk corpora, "
                   "event otherwise)")
    p.add_argument("--workers", type=positive_int, help="parallel parsers (default: all cores)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the train/valid/test split by tune (default 0)")
    p.add_argument("--root", type=out_dir, default="datasets", help="where caches live (default datasets/)")
    p.add_argument("--limit", type=positive_int, help="only the first N tunes (a quick trial)")
    p.add_argument("--force", action="store_true", help="rebuild even when the cache is up to date")
    p.set_defaults(func=_prepare)
    p = command(dsub, "info", "counts, key histogram, length percentiles, rejects by reason",
                "musicgate data info folk", "musicgate data info datasets/folk --json")
    p.add_argument("name", help="a dataset name under --root, or a path")
    p.add_argument("--root", default="datasets", help="where caches live")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_info)


def _prepare(args) -> int:
    data = prepare(args.corpus, vocab=args.vocab, root=args.root, workers=args.workers, seed=args.seed,
                   force=args.force, quiet=args.quiet, limit=args.limit)
    s = summary(data)
    print(f"{data.path}: {s['tunes']} tunes ({s['splits']['train']}/{s['splits']['valid']}/{s['splits']['test']} "
          f"train/valid/test), {s['tokens']:,} tokens, {s['rejected']} rejected; built in {s['built_seconds']} s")
    return 0


def _info(args) -> int:
    s = summary(load_prepared(args.name, root=args.root))
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    print(f"{s['name']} ({s['corpus']}, {s['vocab']} vocabulary): {s['tunes']} tunes, {s['tokens']:,} tokens")
    print("splits: " + ", ".join(f"{k} {v}" for k, v in s["splits"].items()))
    print("modes: " + ", ".join(f"{k} {v}" for k, v in s["modes"].items()))
    if s["dances"]:
        print("dances: " + ", ".join(f"{k} {v}" for k, v in s["dances"].items()))
    print("keys: " + ", ".join(f"{k} {v}" for k, v in list(s["keys"].items())[:12])
          + (" ..." if len(s["keys"]) > 12 else ""))
    print("notes per tune: " + ", ".join(f"{k} {v}" for k, v in s["notes_per_tune"].items()))
    print("tokens per tune: " + ", ".join(f"{k} {v}" for k, v in s["tokens_per_tune"].items()))
    fill, form = s["bar_fill"], s["form"]
    if fill["bars"]:
        print(f"bars filled exactly: {fill['share']:.3f} ({fill['full']:,} of {fill['bars']:,} bars between bar "
              "lines; pickup and final bar left out)")
        print(f"form: {form['repeats']} tunes with repeats, {form['endings']} with first/second endings, "
              f"{form['unbalanced']} with unbalanced repeats or endings (read as written), "
              f"{form['no_bar_lines']} without bar lines" + "".join(
                  f"\n  {v:5d}  {k}" for k, v in form["unbalanced_by_kind"].items()))
    print(f"rejected: {s['rejected']}" + "".join(f"\n  {v:5d}  {k}" for k, v in s["rejects_by_reason"].items()))
    return 0
