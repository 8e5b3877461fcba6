/* musicgate live page: a tune in ABC notation, as musicgate.music.abcwrite.to_abc writes it.
 *
 * A port of to_abc for the tunes the page makes (one line of melody in its written form: the bar
 * lines, repeat signs, endings and part ends of tune.bars, or one bar line a bar of the meter when
 * there are none; one key such as "A dorian" and one meter such as "6/8"; tempo 120). The text is
 * Python's, character for character: the header (X:, T:, N:, M:, L:, Q:, K: as abc_key names the key),
 * the pickup, notes spelled in the key's signature with a sign wherever a reader that holds it for
 * its octave (ABC 2.1) or for the letter (music21) would read another pitch, triplets as "(3", ties
 * across bar lines, beamed groups, four bars or a part a line, the final "|]".
 *
 * Time is counted in integer twelfths of a beat (the tokenizer's grid, to which onsets and lengths
 * are rounded as Python rounds them, half to even); lengths are exact fractions of the unit note.
 * A tune without a meter is written in 4/4, as musicgate generate writes one (its grammar keeps an
 * unknown meter's bars as 4/4); one without a key in C major, as to_abc does.
 */
(function (root) {
  "use strict";
  const live = root.MusicgateLive = root.MusicgateLive || {};
  const GRID = 12;  // steps per beat: abcwrite.GRID
  const TEMPO = 120;  // quarter notes a minute: the tempo the page plays and decoded Notes have
  const MODES = ["major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "locrian"];
  const MODE_FIFTHS = {lydian: -1, major: 0, mixolydian: 1, dorian: 2, minor: 3, phrygian: 4, locrian: 5};
  const MODE_ABC = {major: "", minor: "m", dorian: "dor", phrygian: "phr", lydian: "lyd", mixolydian: "mix", locrian: "loc"};
  const LETTERS = ["C", "D", "E", "F", "G", "A", "B"];  // in abcwrite._NATURAL's order (spelling ties go to the first)
  const NATURAL = {C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11};
  const SHARP_ORDER = "FCGDAEB", FLAT_ORDER = "BEADGCF";
  const SIGN = {"-2": "__", "-1": "_", "0": "=", "1": "^", "2": "^^"};
  const BAR_TEXT = {":|": ":|", "||": "||", "|:": "|:", "|1": "[1", "|2": "[2", "|": "|"};
  const LINE_AFTER = new Set([":|", "||"]);  // a new line after a repeat end or a part end

  const mod = (a, n) => ((a % n) + n) % n;
  const gcd = (a, b) => { a = Math.abs(a); b = Math.abs(b); while (b) [a, b] = [b, a % b]; return a; };

  /** Python's round() of a float: to the nearest integer, halves to the even one. */
  function roundHalfEven(x) {
    const f = Math.floor(x), diff = x - f;
    if (diff > 0.5) return f + 1;
    if (diff < 0.5) return f;
    return f % 2 === 0 ? f : f + 1;
  }

  /** Beats to grid steps (twelfths of a beat), as to_abc rounds them. */
  const step = beats => roundHalfEven(Number(beats) * GRID);

  /** {tonic: pitch class, mode} of a key name such as "D major", "Gb major", "F# dorian" (null: C major). */
  function parseKey(name) {
    if (name === null || name === undefined || name === "") return {tonic: 0, mode: "major"};
    const m = /^\s*([A-Ga-g])\s*(#|b)?\s*([A-Za-z]*)\s*$/.exec(String(name));
    const mode = m ? (m[3] === "" ? "major" : m[3].toLowerCase()) : null;
    if (!m || !MODES.includes(mode)) {
      throw new Error(`unknown key ${JSON.stringify(name)}: give a key such as "D major" or "A dorian" (modes: ${MODES.join(", ")})`);
    }
    return {tonic: mod(NATURAL[m[1].toUpperCase()] + (m[2] === "#" ? 1 : m[2] === "b" ? -1 : 0), 12), mode};
  }

  /** Sharps (> 0) or flats (< 0) of a key's signature, in -6..5 (Key.signature). */
  function signatureOf(key) {
    return mod(mod(key.tonic * 7, 12) - MODE_FIFTHS[key.mode] + 6, 12) - 6;
  }

  /** The spelled name of a place on the circle of fifths (0 = C, 1 = G, -1 = F): keys._fifths_name. */
  function fifthsName(fifths) {
    const acc = Math.floor((fifths + 1) / 7);
    return "FCGDAEB"[mod(fifths + 1, 7)] + (acc > 0 ? "#".repeat(acc) : "b".repeat(-acc));
  }

  /** A key as an ABC K: value: "D", "Em", "Ador", "Dmix", "Bb", "F#m" (abcwrite.abc_key). */
  function abcKey(key) {
    return fifthsName(signatureOf(key) + MODE_FIFTHS[key.mode]) + MODE_ABC[key.mode];
  }

  /** Each letter's accidental under the key's signature (+1 sharp, -1 flat, 0 natural). */
  function signatureMap(key) {
    const n = signatureOf(key), letters = n > 0 ? SHARP_ORDER.slice(0, n) : FLAT_ORDER.slice(0, -n), out = {};
    for (const c of LETTERS) out[c] = letters.includes(c) ? (n > 0 ? 1 : -1) : 0;
    return out;
  }

  /** [letter, accidental, octave] of a MIDI pitch: the key's own letter when the pitch is in its
   * signature, else a natural, else a sharp (sharp and natural keys) or a flat (flat keys). */
  function spell(pitch, sig, sharps) {
    const pc = mod(pitch, 12), options = [];
    for (const c of LETTERS) for (const a of [-1, 0, 1]) if (mod(NATURAL[c] + a, 12) === pc) options.push([c, a]);
    const inKey = options.filter(([c, a]) => sig[c] === a), pool = inKey.length ? inKey : options;
    const rank = ([, a]) => (a !== 0 ? 2 : 0) + (a !== (sharps ? 1 : -1) ? 1 : 0);
    let best = pool[0];
    for (const ca of pool) if (rank(ca) < rank(best)) best = ca;
    const [letter, acc] = best;
    return [letter, acc, Math.floor((pitch - NATURAL[letter] - acc) / 12) - 1];  // B#3 is C4's pitch
  }

  /** ABC letter and octave marks: C is middle C (MIDI 60), c the octave above, C, and c' beyond. */
  function pitchText(letter, octave) {
    return octave >= 5 ? letter.toLowerCase() + "'".repeat(octave - 5) : letter + ",".repeat(4 - octave);
  }

  /** num/den unit notes as ABC writes a length: "" (one), "2", "3/2", "/" (a half), "/4", "2/3". */
  function lengthText(num, den) {
    const g = gcd(num, den);
    num /= g; den /= g;
    if (num === den) return "";
    if (den === 1) return String(num);
    if (num === 1) return den === 2 ? "/" : `/${den}`;
    return `${num}/${den}`;
  }

  /** The ABC of the bar-line kinds at one place, in the order the reader reads them back. */
  function barText(kinds) {
    kinds = [...new Set(kinds)];
    if (kinds[0] === ":|" && kinds[1] === "|2") return ":|2" + kinds.slice(2).map(k => ` ${BAR_TEXT[k]}`).join("");
    if (kinds[0] === "|1" || kinds[0] === "|2") return "|" + kinds[0][1] + kinds.slice(1).map(k => ` ${BAR_TEXT[k]}`).join("");
    const sorted = kinds.filter(k => k !== "|:").concat(kinds.filter(k => k === "|:"));  // ':| |:', not '::'
    return sorted.map(k => BAR_TEXT[k]).join(" ");
  }

  /** [{on, du, pitches}] in steps, one per onset (a chord: same onset and length); throws where notes overlap. */
  function groupsOf(notes, name) {
    const sorted = notes.slice().sort((a, b) => a.onset - b.onset || a.pitch - b.pitch || a.duration - b.duration);
    const out = [];
    for (const n of sorted) {
      const on = step(n.onset), du = Math.max(step(n.duration), 1), last = out[out.length - 1];
      if (last && last.on === on && last.du === du) { last.pitches.push(n.pitch); continue; }
      if (last && on < last.on + last.du) {
        throw new Error(`${name}: ABC is written here as one line of melody, and notes overlap at beat ${Number((on / GRID).toPrecision(6))} ` +
                        `(pitches ${last.pitches[0]} and ${n.pitch}); write MusicXML (.musicxml) instead`);
      }
      out.push({on, du, pitches: [n.pitch]});
    }
    return out;
  }

  /** Bar lines by place (a Map, steps -> kinds): tune.bars as written, else one every bar of the meter
   * (none at the start, a part end at the end). */
  function barLines(bars, bar, end, start) {
    const lines = new Map();
    if (bars.length) {
      for (const {beat, kind} of bars) {
        const at = step(beat);
        if (!lines.has(at)) lines.set(at, []);
        lines.get(at).push(kind);
      }
      return lines;
    }
    const first = 0 < start && start < bar ? bar : 0;
    const count = Math.max(-Math.floor((first - end) / bar), first ? 0 : 1);
    for (let i = 0; i <= count; i++) if (first + i * bar > start) lines.set(first + i * bar, ["|"]);
    lines.set(first + count * bar, ["||"]);
    return lines;
  }

  /** Where the written music starts: the last bar line at or before the first note; else that note when
   * less than a bar comes before the first bar line (a pickup); else beat 0. */
  function pickupStart(groups, lines, bar) {
    if (!groups.length) return 0;
    const firstOn = groups[0].on, places = [...lines.keys()];
    const before = places.filter(b => b <= firstOn);
    if (before.length) return Math.max(...before);
    const after = places.filter(b => b > firstOn);
    if (after.length && firstOn > 0 && Math.min(...after) - firstOn < bar) return firstOn;
    return 0;
  }

  /** The span [a, c) cut at `cuts` inside it: [onset, length, pitches, tied on] pieces. */
  function split(a, c, pitches, cuts) {
    if (c <= a) return [];
    const points = [a, ...cuts.filter(x => a < x && x < c), c], out = [];
    for (let i = 1; i < points.length; i++) {
      out.push([points[i - 1], points[i] - points[i - 1], pitches, pitches !== null && points[i] < c]);
    }
    return out;
  }

  /** Steps per beamed group: a dotted quarter in 6/8, 9/8, 12/8 and 3/8, a half note in 4/4 and 2/2, else a beat. */
  function beamOf([n, d]) {
    if (d === 8 && n % 3 === 0) return 18;
    return (n === 4 && d === 4) || (n === 2 && d === 2) ? 24 : 12;
  }

  const isPowerOfTwo = x => x > 0 && (x & (x - 1)) === 0;

  /** Whether events i..i+2 are a triplet of equal notes (each 2/3 of a power-of-two length) on its beat
   * (a multiple of its span from the start of the bar). */
  function isTriplet(events, i, lines, barStart) {
    if (i + 3 > events.length) return false;
    const three = events.slice(i, i + 3), d = three[0][1];
    if (three.some(e => e[1] !== d)) return false;
    const g = gcd(d, 8), num = d / g, den = 8 / g;  // the plain length, d * 3/2 steps, is d/8 beats
    if ((num !== 1 && den !== 1) || !isPowerOfTwo(num) || !isPowerOfTwo(den)) return false;
    if ((three[0][0] - barStart) % (3 * d) !== 0 || three.some(e => e[3])) return false;  // twice the plain length
    return !three.slice(1).some(e => lines.has(e[0]));
  }

  /** One note, chord or rest of num/den unit notes (and a tie when it goes on past the next bar line). */
  function noteText(pitches, num, den, sig, sharps, held, tied) {
    if (pitches === null) return "z" + lengthText(num, den);
    const parts = [];
    for (const p of pitches.slice().sort((a, b) => a - b)) {
      const [letter, acc, octave] = spell(p, sig, sharps), here = `${letter}${octave}`;
      // what a reader takes without a sign: the bar's last sign on this letter and octave (ABC 2.1), or on
      // this letter in any octave (music21); a sign is written unless both give the pitch
      const byOctave = held.has(here) ? held.get(here) : sig[letter];
      const byLetter = held.has(letter) ? held.get(letter) : sig[letter];
      if (acc !== byOctave || acc !== byLetter) {
        held.set(letter, acc); held.set(here, acc);
        parts.push(SIGN[acc] + pitchText(letter, octave));
      } else parts.push(pitchText(letter, octave));
    }
    return (parts.length === 1 ? parts[0] : `[${parts.join("")}]`) + lengthText(num, den) + (tied ? "-" : "");
  }

  /**
   * The ABC of a tune the page generated (or any {notes: [{pitch, onset, duration}], bars: [{beat, kind}],
   * key: "A dorian", meter: "6/8"}), as Python's to_abc writes the same Notes: opts {title, comment, number, rhythm}
   * (the T:, N: and X: fields; T: and N: left out when empty). Throws where notes overlap other than as a chord.
   */
  function toAbc(tune, opts) {
    const line = s => s ? String(s).split(/\s+/).filter(Boolean).join(" ") : "";  // one header line each
    const o = opts || {}, title = line(o.title), comment = line(o.comment), rhythm = line(o.rhythm);
    const number = o.number === undefined ? 1 : Math.trunc(Number(o.number));
    const groups = groupsOf(tune.notes || [], o.name || title || "notes");
    const meter = (tune.meter || "4/4").split("/").map(Number);
    if (meter.length !== 2 || !meter.every(x => Number.isInteger(x) && x > 0) || (48 * meter[0]) % meter[1]) {
      throw new Error(`the meter ${JSON.stringify(tune.meter)} is not a time signature whose bar is whole twelfths of a beat`);
    }
    const key = parseKey(tune.key);
    const bar = 48 * meter[0] / meter[1];  // steps
    const unit = 4 * meter[0] < 3 * meter[1] ? 3 : 6;  // L:1/16 below 3/4, else L:1/8 (in steps)
    let end = groups.reduce((m, g) => Math.max(m, g.on + g.du), 0);
    const lines = barLines(tune.bars || [], bar, end, groups.length ? groups[0].on : 0);
    const start = pickupStart(groups, lines, bar);
    const places = [...lines.keys()].sort((a, b) => a - b);
    if (places.length) end = Math.max(end, ...places);
    const cuts = places.filter(b => start < b && b < end);
    let events = [], t = start;
    for (const g of groups) {
      events = events.concat(split(t, g.on, null, cuts), split(g.on, g.on + g.du, g.pitches, cuts));
      t = g.on + g.du;
    }
    events = events.concat(split(t, end, null, cuts));

    const header = [`X:${number}`].concat(title ? [`T:${title}`] : [], rhythm ? [`R:${rhythm}`] : [], comment ? [`N:${comment}`] : [],
      [`M:${meter[0]}/${meter[1]}`, `L:1/${unit === 3 ? 16 : 8}`, `Q:1/4=${TEMPO}`, `K:${abcKey(key)}`]);
    const out = places.filter(b => b <= start).map(b => barText(lines.get(b)));
    const sig = signatureMap(key), sharps = signatureOf(key) >= 0;
    const after = places.filter(b => b > start), beam = beamOf(meter);
    let held = new Map(), barsOnLine = 0, i = 0, last = start;  // last: the onset of the last note or rest written
    let barStart = after.length ? after[0] - bar : start;  // a pickup's bar starts before it
    while (i < events.length) {
      const [onset, length, pitches, tied] = events[i];
      if (lines.has(onset) && onset > start) {
        const kinds = lines.get(onset), text = barText(kinds);
        held = new Map(); barStart = onset; barsOnLine += 1;
        if (kinds.includes("|1") || kinds.includes("|2")) out.push(text + " ");  // an ending starts: stay on the line
        else if (kinds.some(k => LINE_AFTER.has(k)) || barsOnLine >= 4) {
          out.push(text.endsWith(" |:") ? text.slice(0, -3) + "\n|:" : text + "\n");  // '|| |:' breaks before '|:'
          barsOnLine = 0;
        } else out.push(text);
      }
      const group = Math.floor((onset - barStart) / beam);  // a new beam group, or a note a beat long or more: a space
      if (last < barStart || Math.floor((last - barStart) / beam) !== group || length >= GRID) out.push(" ");
      if (isTriplet(events, i, lines, barStart)) {
        out.push("(3" + events.slice(i, i + 3).map(e => noteText(e[2], 3 * e[1], 2 * unit, sig, sharps, held, false)).join(""));
        last = events[i + 2][0];
        i += 3;
        continue;
      }
      out.push(noteText(pitches, length, unit, sig, sharps, held, tied));
      last = onset;
      i += 1;
    }
    if (lines.has(end) && end > start) {
      const kinds = lines.get(end);
      out.push(kinds.length === 1 && kinds[0] === "||" ? "|]" : barText(kinds));
    } else if (events.length) out.push("|]");  // the end of the tune: a final bar line
    const body = out.join("").split("\n").map(line => line.split(/\s+/).filter(Boolean).join(" "));
    return header.concat(body.filter(Boolean)).join("\n") + "\n";
  }

  live.toAbc = toAbc;
  live.abcKey = name => abcKey(parseKey(name));
})(typeof window !== "undefined" ? window : globalThis);
