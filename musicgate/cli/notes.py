"""``musicgate info``, ``convert``, ``tokenize`` and ``detokenize``: look at a MIDI file and turn it into ids."""
from __future__ import annotations

import json
from pathlib import Path

from musicgate.cli.common import command, out_file, positive_int
from musicgate.errors import MidiError, TokenizerError
from musicgate.files import atomic_write_json
from musicgate.music.describe import describe, describe_text
from musicgate.music.midi import read_midi, write_midi
from musicgate.tokens.tokenizer import TOKENIZERS, load_tokenizer, make_tokenizer


def register(sub) -> None:
    p = command(sub, "info", "tracks, notes, keys, time signatures, length of a MIDI file",
                "musicgate info song.mid", "musicgate info song.mid --json")
    p.add_argument("file", type=Path, help="a MIDI file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=info)

    p = command(sub, "convert", "MIDI, MusicXML, ABC or corpus:NAME -> MIDI, MusicXML or ABC",
                "musicgate convert corpus:bach/bwv66.6 chorale.musicxml",
                "musicgate convert tune.abc tune.mid",
                "musicgate convert generated/folk-gru_D-major_7_0.mid tune.abc",
                description="The output type follows the file name: .mid/.midi, .musicxml/.xml/.mxl or .abc (one line of melody).")
    p.add_argument("source", help="a file, or corpus:NAME for music21's corpus (corpus:bach/bwv66.6)")
    p.add_argument("output", type=out_file, help="a .mid, .musicxml or .abc file to write")
    p.set_defaults(func=convert)

    p = command(sub, "tokenize", "MIDI file -> token ids (JSON)",
                "musicgate tokenize song.mid --vocab event -o ids.json",
                description="The JSON holds the ids and the tokenizer's settings and vocabulary, so "
                "'musicgate detokenize'\nturns it back into MIDI.")
    p.add_argument("file", type=Path, help="a MIDI file")
    p.add_argument("--vocab", choices=sorted(TOKENIZERS), default="event", help="tokenizer")
    p.add_argument("--grid", type=positive_int, default=12, help="grid steps per beat")
    p.add_argument("-o", "--output", type=out_file, help="write ids.json here (default: print the ids)")
    p.set_defaults(func=tokenize)

    p = command(sub, "detokenize", "token ids (JSON from tokenize) -> MIDI file",
                "musicgate detokenize ids.json -o back.mid")
    p.add_argument("ids", type=Path, help="the ids.json that 'musicgate tokenize -o' wrote")
    p.add_argument("-o", "--output", type=out_file, required=True, help="MIDI file to write")
    p.set_defaults(func=detokenize)


def info(args) -> int:
    d = describe(args.file)
    print(json.dumps(d, indent=1) if args.json else describe_text(d))
    return 0


def convert(args) -> int:
    from musicgate.music.load import load_notes
    from musicgate.music.score import write_musicxml

    suffix = args.output.suffix.lower()
    if suffix not in (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".abc"):
        raise MidiError(f"{args.output}: unknown output type {suffix!r}; use .mid, .musicxml or .abc")
    notes = load_notes(args.source)
    if suffix in (".mid", ".midi"):
        write_midi(notes, args.output)
    elif suffix == ".abc":
        from musicgate.music.abcwrite import write_abc

        write_abc(notes, args.output, titles=[Path(str(args.source)).stem])
    else:
        write_musicxml(notes, args.output)
    print(f"{args.source}: {len(notes)} notes -> {args.output}")
    return 0


def tokenize(args) -> int:
    tok = make_tokenizer(args.vocab, grid=args.grid)
    ids = tok.encode(read_midi(args.file))
    doc = {"tokenizer": {**tok.config, "vocab": tok.vocab}, "ids": ids.tolist()}
    if args.output:
        atomic_write_json(args.output, doc)
        print(f"{args.file}: {len(ids)} tokens ({tok.kind} vocabulary, {len(tok)} tokens) -> {args.output}")
    else:
        print(json.dumps(doc["ids"]))
    return 0


def detokenize(args) -> int:
    from musicgate.files import require_file

    require_file(args.ids, TokenizerError, "token file", "; give the ids.json that 'musicgate tokenize -o' wrote")
    try:
        doc = json.loads(Path(args.ids).read_text())
    except OSError as exc:
        raise TokenizerError(f"{args.ids}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise TokenizerError(f"{args.ids}: not JSON; give the file that 'musicgate tokenize -o' wrote") from None
    if not isinstance(doc, dict) or "ids" not in doc or "tokenizer" not in doc:
        raise TokenizerError(f"{args.ids}: no 'ids' and 'tokenizer' fields; give the file that "
                             "'musicgate tokenize -o' wrote")
    ids = doc["ids"]
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        bad = ids if not isinstance(ids, list) else next(i for i in ids if not isinstance(i, int) or isinstance(i, bool))
        raise TokenizerError(f"{args.ids}: 'ids' must be a list of whole numbers, found {bad!r}")
    try:
        tok = load_tokenizer(doc["tokenizer"])
        notes = tok.decode(ids)
    except TokenizerError as exc:
        raise TokenizerError(f"{args.ids}: {exc}") from None
    write_midi(notes, args.output)
    print(f"{args.ids}: {len(notes)} notes -> {args.output}")
    return 0
