"""``musicgate info``, ``tokenize`` and ``detokenize``: look at a MIDI file and turn it into ids."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musicgate.cli.common import out_file, positive_int
from musicgate.errors import MidiError, TokenizerError
from musicgate.files import atomic_write_json
from musicgate.music.midi import read_midi, write_midi
from musicgate.tokens.tokenizer import TOKENIZERS, load_tokenizer, make_tokenizer


def register(sub) -> None:
    p = sub.add_parser("info", help="tracks, notes, key and time signatures, length of a MIDI file")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=info)

    p = sub.add_parser("convert", help="music (MIDI, MusicXML, ABC, corpus:NAME) -> MIDI or MusicXML")
    p.add_argument("source", help="a file, or corpus:NAME for music21's corpus (corpus:bach/bwv66.6)")
    p.add_argument("output", type=out_file, help="a .mid or .musicxml file to write")
    p.set_defaults(func=convert)

    p = sub.add_parser("tokenize", help="MIDI file -> token ids (JSON)")
    p.add_argument("file", type=Path)
    p.add_argument("--vocab", choices=sorted(TOKENIZERS), default="event")
    p.add_argument("--grid", type=positive_int, default=12, help="grid steps per beat (default 12)")
    p.add_argument("-o", "--output", type=out_file, help="write ids.json here (default: print)")
    p.set_defaults(func=tokenize)

    p = sub.add_parser("detokenize", help="token ids (JSON from tokenize) -> MIDI file")
    p.add_argument("ids", type=Path)
    p.add_argument("-o", "--output", type=out_file, required=True, help="MIDI file to write")
    p.set_defaults(func=detokenize)


def describe(path: Path) -> dict:
    """What ``musicgate info`` reports about a MIDI file."""
    notes = read_midi(path, drums=True)
    tracks = []
    for trk in np.unique(notes.track):
        sel = notes.track == trk
        prog = int(notes.program[sel][0])
        tracks.append({"track": int(trk), "program": "drums" if prog < 0 else prog, "notes": int(sel.sum()),
                       "pitch_range": [int(notes.pitch[sel].min()), int(notes.pitch[sel].max())]})
    return {
        "file": str(path), "notes": len(notes), "tracks": tracks,
        "beats": round(notes.end, 3), "seconds": round(float(notes.seconds(notes.end)), 3),
        "key_signatures": [[round(b, 3), k.name] for b, k in notes.keys],
        "time_signatures": [[round(b, 3), f"{n}/{d}"] for b, n, d in notes.meters],
        "tempo_changes": len(notes.tempos), "first_tempo_qpm": round(float(notes.tempos[0, 1]), 2),
    }


def info(args) -> int:
    d = describe(args.file)
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    print(f"{d['file']}: {d['notes']} notes in {len(d['tracks'])} tracks, {d['beats']} beats, "
          f"{d['seconds']} s, tempo {d['first_tempo_qpm']} qpm ({d['tempo_changes']} tempo changes)")
    print("key signatures: " + (", ".join(f"{k} at beat {b}" for b, k in d["key_signatures"]) or "none"))
    print("time signatures: " + (", ".join(f"{m} at beat {b}" for b, m in d["time_signatures"]) or "none"))
    for t in d["tracks"]:
        print(f"  track {t['track']}: program {t['program']}, {t['notes']} notes, "
              f"pitches {t['pitch_range'][0]}-{t['pitch_range'][1]}")
    return 0


def convert(args) -> int:
    from musicgate.music.load import load_notes
    from musicgate.music.score import write_musicxml

    suffix = args.output.suffix.lower()
    if suffix not in (".mid", ".midi", ".musicxml", ".xml", ".mxl"):
        raise MidiError(f"{args.output}: unknown output type {suffix!r}; use .mid or .musicxml")
    notes = load_notes(args.source)
    if suffix in (".mid", ".midi"):
        write_midi(notes, args.output)
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
