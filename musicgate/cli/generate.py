"""``musicgate generate``: MIDI in a chosen key from a shipped model or a checkpoint."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from musicgate.cli.common import (command, device, int_at_least, output_alias, out_dir, positive_float,
                                   positive_int, probability, seed)
from musicgate.generation.api import DEFAULT_LENGTH, DEFAULT_MAX_LOOP, DEFAULT_MAX_RUN, DEFAULT_MIN_P, DEFAULT_MODEL, DEFAULT_TEMPERATURE  # light: torch loads only when a model is used
from musicgate.generation.sample import DEFAULT_MIN_LENGTH


def register(sub) -> None:
    p = command(
        sub, "generate", "MIDI tunes in a key from a shipped model or a checkpoint",
        'musicgate generate --model folk-gru --key "A dorian" --num 4 --wav --musicxml --abc',
        "musicgate generate --model runs/folk-lstm --primer tune.mid --key Em --length 256 -o out/",
        description="Samples K pieces from a recurrent language model and writes them as "
        "{model}_{key}_{seed}_{i}.mid,\nwith a {model}_{key}_{seed}.json record of the settings. "
        "Without --key the primer's key is estimated,\nor one of the 24 major/minor keys is drawn "
        "with the seed. A piece ends where the model ends it\n(between --min-length and --length new "
        "notes); --exact-length gives every piece the same\nnumber of notes. Every piece is "
        "grammar-constrained, so it always decodes to valid MIDI;\nfor melody models the grammar also "
        "keeps the meter: bar lines where the bars are full,\nno note across a bar line.")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH",
                   help=f"shipped model (folk-rnn, folk-lstm, folk-gru) or a checkpoint path "
                   f"(default {DEFAULT_MODEL})")
    p.add_argument("--key", help="key: 'D major', 'Dm', 'F# minor', 'Bb', ABC forms such as 'Ador' "
                   "(default: the primer's, else drawn with the seed)")
    p.add_argument("--length", type=positive_int, metavar="N",
                   help=f"most new notes per piece (default {DEFAULT_LENGTH}; not bounded by the training "
                   "window); a piece that reaches it is cut there, and the output says so")
    p.add_argument("--min-length", type=positive_int, metavar="N",
                   help=f"new notes before the model may end a piece (default {DEFAULT_MIN_LENGTH}, "
                   "at most --length, or fewer once a piece is in its last planned bar)")
    p.add_argument("--exact-length", type=positive_int, metavar="N",
                   help="exactly N notes per piece, the primer's included, for studies (instead of "
                   "--length and --min-length; a cut piece gets rests to the end of its bar)")
    p.add_argument("--bars", type=positive_int, metavar="N",
                   help="models with form inputs (the shipped ones): the planned bar lines of each piece, the "
                   "primer's included; the model knows how many are left and shapes the ending (default: "
                   "drawn per piece from the bar counts of the model's training tunes in its meter; 16 where the model "
                   "does not record them)")
    p.add_argument("--time-signature", metavar="M/N|DANCE",
                   help="the meter of every piece: 6/8, 3/4, C, C| ... or a dance, in its meter as the corpus writes it "
                   "and with bar plans drawn from the corpus's tunes of that dance: reel, hornpipe (C|, 2/2), "
                   "strathspey (C), jig (6/8), slip jig (9/8), slide (12/8), polka (2/4), waltz (3/4) "
                   "(default: the primer's, else drawn by the model per piece)")
    p.add_argument("--keep-octave", action="store_true",
                   help="leave each piece in the octave the model wrote it in (default: moved by whole octaves "
                   "so its median pitch is nearest the training tunes'; recorded in the JSON)")
    p.add_argument("--free-meter", action="store_true",
                   help="melody models: drop the meter grammar (bar lines anywhere, notes across bar "
                   "lines), as the model was sampled before; recorded in the JSON")
    p.add_argument("--num", type=positive_int, default=1, metavar="K", help="pieces to write (default 1)")
    p.add_argument("--temperature", type=positive_float, default=DEFAULT_TEMPERATURE, metavar="T",
                   help=f"> 0; lower is more conservative, 1 samples the model as it is (default {DEFAULT_TEMPERATURE})")
    p.add_argument("--top-k", type=positive_int, metavar="K", help="sample among the K likeliest tokens (default: all)")
    p.add_argument("--top-p", type=probability, metavar="P", help="nucleus sampling, P in (0, 1] (default: off)")
    p.add_argument("--min-p", type=float, default=DEFAULT_MIN_P, metavar="M",
                   help="min-p sampling: leave out tokens less than M times as likely as the likeliest, M in "
                   f"[0, 1); 0 samples every token (default {DEFAULT_MIN_P})")
    p.add_argument("--primer", type=Path, metavar="FILE.mid",
                   help="music to continue (moved into --key when one is given; default: none)")
    p.add_argument("--seed", type=seed, metavar="S", help="random seed (drawn and reported when left out)")
    p.add_argument("-o", "--output", type=out_dir, default="generated", metavar="DIR",
                   help="output folder (default generated/)")
    output_alias(p, "--output-dir", type=out_dir)
    p.add_argument("--wav", action="store_true", help="also render each piece to WAV")
    p.add_argument("--musicxml", action="store_true", help="also write MusicXML sheet music")
    p.add_argument("--abc", action="store_true",
                   help="also write ABC notation: the tune as written, with its repeats and endings")
    p.add_argument("--key-mask", action="store_true",
                   help="only notes of the key signature (a push toward the key; off by default, "
                   "recorded in the JSON so key-retention measurements can leave it out)")
    p.add_argument("--no-repeat-ngram", type=positive_int, metavar="N",
                   help="never repeat a sequence of N pitches within a piece (default: off)")
    p.add_argument("--max-run", type=int_at_least(0), default=DEFAULT_MAX_RUN, metavar="N",
                   help=f"at most N notes of one pitch in a row, a guard against a loop on one note; 0: no "
                   f"limit (default {DEFAULT_MAX_RUN})")
    p.add_argument("--max-loop", type=int_at_least(0), default=DEFAULT_MAX_LOOP, metavar="N",
                   help="a passage of 1-4 bars at most N times in a row (melody models): the bar that would "
                   f"begin its next playing may not start with the same pitch; 0: no limit (default {DEFAULT_MAX_LOOP})")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default), cuda, cuda:N or mps")
    p.set_defaults(func=generate_command)


def generate_command(args) -> int:
    from musicgate.generation.api import generate_run, write_outputs

    start = time.perf_counter()
    quiet = bool(getattr(args, "quiet", False))
    if args.wav:  # fail before sampling when audio cannot be rendered
        from musicgate.generation.api import check_audio

        check_audio()
    run = generate_run(args.model, key=args.key, length=args.length, num=args.num, min_length=args.min_length,
                       exact_length=args.exact_length, meter=not args.free_meter, temperature=args.temperature,
                       top_k=args.top_k, top_p=args.top_p, primer=args.primer, seed=args.seed,
                       key_mask=args.key_mask, no_repeat_ngram=args.no_repeat_ngram, device=args.device,
                       progress=not quiet and sys.stderr.isatty(), min_p=args.min_p, bars=args.bars,
                       max_run=args.max_run or None, time_signature=args.time_signature,
                       keep_octave=args.keep_octave, max_loop=args.max_loop or None)
    paths = write_outputs(run.notes, args.output, model_name=run.model_name, key=run.key, seed=run.seed,
                          wav=args.wav, musicxml=args.musicxml, abc=args.abc, settings=run.settings)
    for path in paths:
        print(f"wrote {path}")
    s = run.settings
    flags = ", ".join(s["key_pushing_flags"]) or "none"
    counts = ", ".join(str(len(n)) for n in run.notes)
    if s["length_mode"] == "exact":
        ending = f"exactly {s['exact_length']} notes each (--exact-length)"
    else:
        ending = f"{sum(s['ended_by_model'])} of {len(run.notes)} ended by the model"
        plans = s.get("planned_bars")
        if plans:
            lo, hi = min(plans), max(plans)
            what = f"{lo}" if lo == hi else f"{lo}-{hi}"
            ending += f" ({what} bars planned, {s['plan_source']})"
    meter = "on" if s["meter_grammar"] else ("off (--free-meter)" if s["vocab"] == "melody" else "n/a")
    sigs = sorted({m or "none" for m in s["meters"]}, key=lambda m: (m == "none", m))
    what = f"in {s['time_signature']} (given)" if s["time_signature"] else f"in {', '.join(sigs)} ({s['meter_source']})"
    if s.get("dance"):
        what = f"as {s['dance']}s {what}"
    print(f"{len(run.notes)} piece(s) of {counts} notes from {run.model_name} in {run.key.name} "
          f"({s['key_source']}) {what}, seed {run.seed}; {ending}; meter grammar {meter}; "
          f"key-pushing flags: {flags}; {time.perf_counter() - start:.1f} s")
    moved = [(i, k) for i, k in enumerate(s["octave_shift"] or []) if k]
    if moved:
        what = ", ".join(f"{i} ({'up' if k > 0 else 'down'} {abs(k) // 12} octave{'s' if abs(k) > 12 else ''})"
                         for i, k in moved)
        print(f"octave: piece(s) {what} moved into the training tunes' register (median pitch "
              f"{s['register']:g}); --keep-octave leaves them where the model wrote them")
    for note in s["notes"]:
        print(f"note: {note}")
    cut = [i for i, c in enumerate(s["cut"]) if c]
    if cut:
        print(f"cut at the maximum of {s['max_length']} new notes (--length), not ended by the model: "
              f"piece(s) {', '.join(map(str, cut))}")
    return 0
