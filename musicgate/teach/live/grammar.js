/* musicgate live page: the melody vocabulary, its grammar, the sampler and the decoder, in JavaScript.
 *
 * A port of musicgate.tokens.grammar.MelodyGrammar (structural and meter-true), of how
 * musicgate.generation.sample applies it (length control: EOS masked until minNotes notes, or by default
 * until the tune is in its last planned bar; at
 * maxNotes MelodyTokenizer.close: no new note, then EOS as soon as the grammar without its rules of style
 * allows it (an open repeat's :| first); a plan stretched where a first part closes past half of it; the token
 * budget, after which MelodyTokenizer.fillers are masked), of musicgate.music.notes.form_spans, and of
 * MelodyTokenizer.decode (musicgate.tokens.tokenizer: bar lines, TIE joins, the pickup). Every
 * tune it samples follows the grammar, so it decodes in Python as in here.
 */
(function (root) {
  "use strict";
  const live = root.MusicgateLive = root.MusicgateLive || {};
  const FORM = {REPEAT_START: "|:", REPEAT_END: ":|", ENDING_1: "|1", ENDING_2: "|2", PART_END: "||"};
  const MAX_TOKENS_PER_NOTE = 16, DEFAULT_MIN_NOTES = 32, DEFAULT_MIN_P = 0.05;  // as musicgate generate
  const DEFAULT_MAX_RUN = 6;  // musicgate.generation.api.DEFAULT_MAX_RUN: most notes of one pitch in a row
  const DEFAULT_MAX_LOOP = 4;  // musicgate.generation.api.DEFAULT_MAX_LOOP: most times a 1-4 bar passage in a row
  const DEFAULT_BARS = 16;  // musicgate.generation.plans.DEFAULT_BARS: the plan of a model with form inputs
  const RARE_METER = 0.01;  // musicgate.generation.api.RARE_METER: a meter the model starts fewer of its tunes in
  const MIN_DRAWN_BARS = 8;  // musicgate.generation.plans.MIN_DRAWN_BARS: the shortest plan drawn from the corpus
  const CORPUS = "corpus";  // bars: draw the plan from the model's barLines (its training tunes' bar-line counts)
  const PLAN_STREAM = 0x6261;  // the plan's own random stream (seed ^ this): the token draws stay as they were
  const LAST_PART = 0.6;  // musicgate.tokens.grammar.LAST_PART: a last part has at least this share of the first's bars
  const FIRST_ENDING_BARS = 4;  // musicgate.tokens.grammar.FIRST_ENDING_BARS: a first ending closes by its fourth bar line

  /** mulberry32: a small seeded PRNG, uniform floats in [0, 1). */
  function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6D2B79F5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** What the grammar and decoder need from a melody tokenizer's config and vocabulary. */
  class Vocab {
    constructor(tok) {
      if (!tok || tok.kind !== "melody") throw new Error("the live page needs a melody vocabulary");
      const words = tok.vocab, v = words.length, id = {};
      words.forEach((w, i) => { id[w] = i; });
      this.words = words; this.size = v; this.grid = tok.grid; this.form = !!tok.form; this.id = id;
      this.pitchRange = tok.pitch_range || [0, 127];
      this.pad = id.PAD; this.bos = id.BOS; this.eos = id.EOS; this.bar = id.BAR; this.rest = id.REST;
      this.tie = "TIE" in id ? id.TIE : -1;
      this.keyBase = words.findIndex(w => w.startsWith("KEY_")); this.keyUnknown = id.KEY_unknown;
      this.meterBase = words.findIndex(w => w.startsWith("METER_")); this.meterUnknown = id.METER_unknown;
      this.pitchOf = new Int32Array(v).fill(-1);
      this.durSteps = new Int32Array(v);
      this.lineKind = {};
      this.lineKind[this.bar] = "|";
      if (this.form) for (const [name, kind] of Object.entries(FORM)) if (name in id) this.lineKind[id[name]] = kind;
      words.forEach((w, i) => {
        if (w.startsWith("PITCH_")) this.pitchOf[i] = parseInt(w.slice(6), 10);
        else if (w.startsWith("DUR_")) this.durSteps[i] = parseInt(w.slice(4), 10);
      });
      this.barOf = new Int32Array(v);
      for (let m = this.meterBase; m <= this.meterUnknown; m++) {
        const name = words[m].split("_")[1];
        const [num, den] = m === this.meterUnknown ? [4, 4] : name.split("/").map(Number);
        this.barOf[m] = Math.max(Math.round(num * 4 / den * this.grid), 1);
      }
      this.meters = [];  // {id, name: "6/8"}: the time signatures a tune may be asked in
      for (let m = this.meterBase; m < this.meterUnknown; m++) this.meters.push({id: m, name: words[m].slice(6)});
      this.keys = [];  // {id, name: "D major"}
      for (let k = this.keyBase; k < this.keyUnknown; k++) {
        const [, tonic, mode] = words[k].split("_");
        this.keys.push({id: k, name: `${tonic} ${mode}`});
      }
    }

    isBar(t) { return t in this.lineKind; }
    isNote(t) { return this.pitchOf[t] >= 0 || (this.tie >= 0 && t === this.tie); }
    isHead(t) { return this.isNote(t) || t === this.rest; }
    /** The KEY token id for a key name ("D major", "KEY_D_major"); throws for an unknown key. */
    keyId(name) {
      const k = this.keys.find(x => x.name === name || this.words[x.id] === name);
      if (!k) throw new Error(`unknown key ${JSON.stringify(name)}: give one of ${this.keys.map(x => x.name).join(", ")}`);
      return k.id;
    }
    /** The METER token id for a time signature ("6/8", "METER_6/8"); throws for one the vocabulary lacks. */
    meterId(name) {
      const m = this.meters.find(x => x.name === name || this.words[x.id] === name);
      if (!m) {
        throw new Error(`unknown time signature ${JSON.stringify(name)}: give one of ${this.meters.map(x => x.name).join(", ")}`);
      }
      return m.id;
    }
    /** Grid steps in a bar of the meter of the first known METER token (4/4 without one). */
    headerBar(ids) {
      const m = ids.find(t => t >= this.meterBase && t < this.meterUnknown);
      return m === undefined ? this.barOf[this.meterUnknown] : this.barOf[m];
    }
  }

  /** MelodyGrammar: table[last][next] by token type, plus (meter = true) the bar arithmetic. */
  class Grammar {
    constructor(vocab, meter = true) {
      const V = vocab, v = V.size;
      this.V = V; this.meter = !!meter;
      this.table = [];
      for (let i = 0; i < v; i++) this.table.push(new Uint8Array(v));
      const range = (a, b) => Array.from({length: b - a}, (_, i) => a + i);
      const keys = range(V.keyBase, V.keyUnknown + 1), meters = range(V.meterBase, V.meterUnknown + 1);
      const durs = range(0, v).filter(t => V.durSteps[t] > 0);
      this.barCols = range(0, v).filter(t => V.isBar(t));
      this.isMark = this.barCols.map(t => t !== V.bar);
      const heads = range(0, v).filter(t => V.isHead(t));
      const set = (rows, cols) => { for (const r of rows) for (const c of cols) this.table[r][c] = 1; };
      set([V.bos], keys); set(keys, meters); set([V.eos], [V.pad]); set([V.pad], [V.pad]);
      set([...meters, ...this.barCols, ...durs], [...heads, ...this.barCols, V.eos]);
      set(heads, durs);
      this.durs = durs; this.heads = heads;
      this.repeatStart = "REPEAT_START" in V.id ? V.id.REPEAT_START : -1;
      this.repeatEnd = "REPEAT_END" in V.id ? V.id.REPEAT_END : -1;
      this.ending1 = "ENDING_1" in V.id ? V.id.ENDING_1 : -1;
      this.ending2 = "ENDING_2" in V.id ? V.id.ENDING_2 : -1;
      this.partEnd = "PART_END" in V.id ? V.id.PART_END : -1;
    }

    /** State after `prefix` (ids starting with BOS). */
    start(prefix) {
      // open: 1 after a repeat start, 2 once a note follows it (no end then), 0 after a repeat end
      // ending: 1 inside a first ending, 2 right after the :| that closes it (the second ending next)
      // partBars, inPart, firstBars, lastBars, parts: the parts as musicgate.tokens.grammar counts them
      const s = {last: -1, pos: 0, bar: 0, limit: 0, seen: false, pickup: 0, tied: false, open: 0, ending: 0,
                 partBars: 0, inPart: false, firstBars: 0, lastBars: 0, parts: 0, run: 0,  // run: bar-line tokens in a row
                 endingBars: 0};  // endingBars: bar lines inside the current first ending
      for (const t of prefix) this.advance(s, t);
      return s;
    }

    /** Uint8Array over the vocabulary: 1 where the token may come next; style false leaves out the rules of
     * style (an end in a short last part or right after a |:, a :| closing a repeat of one or two bars). */
    allowed(s, style = true) {
      const V = this.V;
      const mask = Uint8Array.from(this.table[s.last]);
      if (V.tie >= 0 && !s.tied) mask[V.tie] = 0;
      if (!this.meter) return mask;
      const room = s.limit - s.pos;
      for (const t of this.durs) if (V.durSteps[t] > room) mask[t] = 0;
      if (room <= 0) for (const t of this.heads) mask[t] = 0;
      const full = room <= 0, whole = s.limit === s.bar;
      const short = s.seen && whole && s.pos > 0 && !full;
      const lastIsBar = V.isBar(s.last);
      this.barCols.forEach((t, j) => {
        const follow = lastIsBar && t !== s.last && this.isMark[j] && !(s.last === this.partEnd && t === this.repeatEnd);
        if (!(!s.seen || full || follow || (short && this.isMark[j])) || s.run >= 2) mask[t] = 0;  // two at a bar line at most
      });
      const mayEnd = full || lastIsBar || (!s.seen && s.pos === 0) || (s.seen && V.durSteps[s.last] > 0);
      if (!mayEnd || s.open === 2 || s.ending !== 0) mask[V.eos] = 0;
      if (this.ending1 >= 0) {  // endings as ABC writes them: |1 ... :|2, the second at once
        if (s.ending !== 0) mask[this.ending1] = 0;
        if (s.last === this.ending1) mask[this.repeatEnd] = 0;  // a first ending holds music before its :|
        if (s.ending === 1) { mask[this.partEnd] = 0; mask[this.repeatStart] = 0; }
        if (s.ending !== 2) mask[this.ending2] = 0;
        else { for (let t = 0; t < V.size; t++) if (t !== this.ending2) mask[t] = 0; mask[this.ending2] = 1; }
      }
      if (style && this.repeatStart >= 0) {  // the rules of style (MelodyGrammar._style)
        const inPart = s.inPart ? 1 : 0, now = s.partBars + inPart, last = s.inPart ? now : s.lastBars;
        const shortEnd = s.parts + inPart >= 2 && last < LAST_PART * (s.parts > 0 ? s.firstBars : now);
        if (shortEnd) mask[V.eos] = 0;
        const here = s.partBars + (s.inPart && !lastIsBar ? 1 : 0);
        const short = s.inPart && s.parts > 0 && here < LAST_PART * s.firstBars;
        if (short || s.open === 2) mask[this.partEnd] = 0;  // and no || inside an open repeat
        if ((short || (s.inPart && here <= 2)) && s.ending !== 1) mask[this.repeatEnd] = 0;
        if (s.ending === 1 && s.endingBars + (lastIsBar ? 0 : 1) >= FIRST_ENDING_BARS) {  // a first ending's last bar
          for (const t of this.barCols) if (t !== this.repeatEnd) mask[t] = 0;
        }
      }
      if (!mask.some(x => x)) return Uint8Array.from(this.table[s.last]);
      return mask;
    }

    advance(s, t) {
      const V = this.V;
      const previous = s.last;
      s.last = t;
      if (V.tie >= 0 && V.isHead(t)) s.tied = V.isNote(t);
      if (!this.meter) return;
      if (this.repeatStart >= 0) {  // parts: a bar line counts once the part has a note; :| (not a first ending's) or || ends it
        if (V.isBar(t) && !V.isBar(previous) && s.inPart) s.partBars += 1;
        const close = s.inPart && (t === this.partEnd || (t === this.repeatEnd && s.ending !== 1));
        if (close) {
          if (s.parts === 0) s.firstBars = s.partBars;
          s.lastBars = s.partBars; s.parts += 1; s.partBars = 0; s.inPart = false;
        }
        if (V.pitchOf[t] >= 0) s.inPart = true;
      }
      if (t === this.repeatStart) s.open = 1;
      else if (t === this.repeatEnd) s.open = 0;
      else if (s.open === 1 && V.isNote(t)) s.open = 2;
      if (t === this.ending1) s.endingBars = 0;
      else if (s.ending === 1 && V.isBar(t) && !V.isBar(previous)) s.endingBars += 1;
      if (t === this.ending1) s.ending = 1;
      else if (t === this.ending2) s.ending = 0;
      else if (t === this.repeatEnd && s.ending === 1) s.ending = 2;
      if (V.barOf[t] > 0) { s.bar = V.barOf[t]; s.limit = s.bar; }
      s.run = V.isBar(t) ? s.run + 1 : 0;
      s.pos += V.durSteps[t];
      if (V.isBar(t)) {
        const pos = s.pos, limit = s.limit, bar = Math.max(s.bar, 1);
        const first = !s.seen, short = s.seen && pos > 0 && pos < limit, full = pos >= limit;
        if (first) s.pickup = pos % bar;
        s.pos = (first || short) ? 0 : (full ? pos - limit : pos);
        s.limit = (short && !first) ? bar - pos : ((full || first) ? bar : limit);
        s.seen = true;
      }
    }

    /** True when `ids` (starting with BOS) follows the grammar (style false: without its rules of style). */
    isValid(ids, style = true) {
      if (!ids.length || ids[0] !== this.V.bos) return false;
      const s = this.start([this.V.bos]);
      for (const t of ids.slice(1)) {
        if (!this.allowed(s, style)[t]) return false;
        this.advance(s, t);
      }
      return true;
    }
  }

  /** Notes of token ids as MelodyTokenizer.decode makes them: onsets and durations in beats. */
  function decode(V, ids) {
    const notes = [], rests = [], lines = [];
    let pos = 0, head = -1, headAt = -1, tied = false;
    ids.forEach((x, i) => {
      if (V.isBar(x)) lines.push([pos, V.lineKind[x]]);
      else if (V.durSteps[x] > 0) {
        if (head < 0) return;
        const d = V.durSteps[x];
        if (V.pitchOf[head] >= 0) { notes.push({pitch: V.pitchOf[head], on: pos, dur: d, token: headAt}); tied = true; }
        else if (head === V.tie && tied) notes[notes.length - 1].dur += d;
        else { tied = false; if (head === V.rest) rests.push({on: pos, dur: d, token: headAt}); }
        pos += d; head = -1;
      } else if (V.pitchOf[x] >= 0 || x === V.rest || x === V.tie) { head = x; headAt = i; }
    });
    // final_repeat_closed: a |: with no note at or after it opens nothing, the final bar line it stands for
    const lastOn = notes.length ? Math.max(...notes.map(n => n.on)) : null;
    for (const l of lines) if (l[1] === "|:" && (lastOn === null || l[0] > lastOn)) l[1] = "||";
    // normal_lines: by position, no plain line where a mark stands, no repeats
    const sorted = lines.map((l, i) => [l, i]).sort((a, b) => a[0][0] - b[0][0] || a[1] - b[1]).map(a => a[0]);
    const marked = new Set(sorted.filter(l => l[1] !== "|").map(l => l[0]));
    const seen = new Set(), bars = [];
    for (const [p, k] of sorted) {
      if (k === "|" && marked.has(p)) continue;
      if (seen.has(`${p}${k}`)) continue;
      seen.add(`${p}${k}`); bars.push([p, k]);
    }
    const bar = V.headerBar(ids);
    let shift = 0;
    if (V.form) {
      const first = bars.find(l => l[0] > 0);
      if (first && first[0] < bar) shift = bar - first[0];
    }
    const g = V.grid;
    const k = ids.find(t => t >= V.keyBase && t < V.keyUnknown);
    const m = ids.find(t => t >= V.meterBase && t < V.meterUnknown);
    return {
      notes: notes.map(n => ({pitch: n.pitch, onset: (n.on + shift) / g, duration: n.dur / g, token: n.token})),
      rests: rests.map(n => ({onset: (n.on + shift) / g, duration: n.dur / g, token: n.token})),
      bars: bars.map(([p, kind]) => ({beat: (p + shift) / g, kind})),
      end: (pos + shift) / g, barBeats: bar / g,
      key: k === undefined ? null : V.keys[k - V.keyBase].name,
      meter: m === undefined ? null : V.words[m].slice(6),
    };
  }

  /**
   * The [start, stop] beat spans of the written tune in the order they are played: repeats and first
   * and second endings unrolled, as musicgate.music.notes.form_spans (and so the gallery's audio) plays them.
   */
  function formSpans(bars, end, begin = 0) {  // begin: a pickup's first note, where a repeat to the start goes
    const spans = [];
    let pos = 0, start = begin, first = null;
    for (const {beat: b, kind} of bars) {
      if (kind === ":|" && b > pos) {
        const backTo = first !== null && start <= first && first < b ? first : b;
        spans.push([pos, b], [start, backTo]);
        pos = b; start = b; first = null;
      } else if (kind === "|:" || kind === "||") { start = b; first = null; }
      else if (kind === "|1") first = b;
    }
    spans.push([pos, end]);
    return spans.filter(([a, c]) => c > a);
  }

  /** For each token position, the index of the last complete note, -1 before the first (Tokenizer.note_index). */
  function noteIndex(V, ids) {
    const out = new Int32Array(ids.length);
    let count = -1, prev = -1;
    ids.forEach((x, t) => {
      if (V.pitchOf[x] >= 0 || x === V.rest || x === V.tie || V.durSteps[x] > 0) {
        if (V.durSteps[x] > 0 && prev >= 0 && V.pitchOf[prev] >= 0) count += 1;
        prev = x;
      }
      out[t] = count;
    });
    return out;
  }

  /**
   * Per-step rows (one per token step, as sampleTune's `keep`) as one row per note, as
   * musicgate.viz.gates.per_note does: the steps after note i-1 is complete, up to the one that
   * completes note i, are note i's; "mean" averages them (gates), "last" takes the last (states).
   */
  function perNote(V, ids, rows, how) {
    const index = noteIndex(V, ids), n = ids.length ? index[ids.length - 1] + 1 : 0;
    const out = Array.from({length: n}, () => null), counts = new Array(n).fill(0);
    for (let t = 0; t < rows.length; t++) {
      const g = t === 0 ? 0 : index[t - 1] + 1;
      if (g >= n) continue;
      if (how === "last" || out[g] === null) out[g] = rows[t].slice();
      else out[g] = out[g].map((v, u) => v + rows[t][u]);
      counts[g] += 1;
    }
    return how === "last" ? out : out.map((r, g) => r.map(v => v / counts[g]));
  }

  function checkOptions(V, o) {
    if (typeof o.temperature !== "number" || !Number.isFinite(o.temperature) || !(o.temperature > 0)) {
      throw new Error(`temperature must be a finite number > 0 (1 samples the model as it is), got ${o.temperature}`);
    }
    if (typeof o.minP !== "number" || !Number.isFinite(o.minP) || !(o.minP >= 0 && o.minP < 1)) {
      throw new Error(`minP must be a number in [0, 1) (0 samples every token), got ${o.minP}`);
    }
    if (o.maxRun !== null && !(Number.isInteger(o.maxRun) && o.maxRun >= 1)) {
      throw new Error(`maxRun must be a whole number >= 1 (the most notes of one pitch in a row) or null (no limit), got ${o.maxRun}`);
    }
    if (o.maxLoop !== null && !(Number.isInteger(o.maxLoop) && o.maxLoop >= 2)) {
      throw new Error(`maxLoop must be a whole number >= 2 (the most times a passage of 1-4 bars comes in a row) or null (no limit), got ${o.maxLoop}`);
    }
    for (const name of ["maxNotes", "minNotes"]) {
      if (o[name] !== undefined && !(Number.isInteger(o[name]) && o[name] >= 1)) {
        throw new Error(`${name} must be a whole number >= 1, got ${o[name]}`);
      }
    }
    if (!Number.isInteger(o.seed)) throw new Error(`seed must be a whole number, got ${o.seed}`);
    checkBars(o.bars);
    return V.keyId(o.key);
  }

  function checkBars(bars) {
    if (bars !== undefined && bars !== CORPUS && !(Number.isInteger(bars) && bars >= 1)) {
      throw new Error(`bars must be a whole number >= 1 (the bar lines the tune is planned to have) or ` +
                      `"${CORPUS}" (drawn from the training tunes), got ${typeof bars === "string" ? JSON.stringify(bars) : bars}`);
    }
  }

  /**
   * The bar plan of a tune of `model` asked for `bars` with `seed`, as musicgate generate makes it:
   * {plannedBars, planSource}. A whole number is taken as given ("given"); "corpus" draws one from
   * the model's barLines (the training tunes' bar-line counts) with its own stream of the seed
   * ("corpus"); left out, "corpus" for a model with barLines, else DEFAULT_BARS ("default"). Given a
   * `dance` ("jig") whose plan the model's file has (model.dances), "corpus" draws from that dance's
   * tunes in the folk corpus instead (planSource: the dance), as musicgate generate --time-signature jig;
   * given a `meter` ("6/8") whose plans the model's file has (model.barLinesByMeter), from the training
   * tunes in that meter. {plannedBars: null, planSource: null} for a model without form inputs, which plans nothing.
   */
  function barPlan(model, bars, seed, dance, meter) {
    checkBars(bars);
    if (!model.form) return {plannedBars: null, planSource: null};
    const plan = dance && model.dances && model.dances[dance] && model.dances[dance].plan;
    const counts = plan || (meter && (model.barLinesByMeter || {})[meter]) || model.barLines;
    if (bars === undefined) {
      if (!counts) return {plannedBars: DEFAULT_BARS, planSource: "default"};
      bars = CORPUS;
    }
    if (bars !== CORPUS) return {plannedBars: bars, planSource: "given"};
    if (!counts) {
      throw new Error(`bars "${CORPUS}" needs a model whose file has its training tunes' bar-line counts, and ` +
                      `${model.name} has none (export it again with musicgate export); give a whole number of bars`);
    }
    if (!Number.isInteger(seed)) throw new Error(`seed must be a whole number, got ${seed}`);
    const usable = counts.filter(([k]) => k >= MIN_DRAWN_BARS);  // shorter tunes are fragments
    const total = usable.reduce((a, [, v]) => a + v, 0), u = mulberry32(seed ^ PLAN_STREAM)() * total;
    if (!(total > 0)) return {plannedBars: DEFAULT_BARS, planSource: "default"};  // as Python
    let sum = 0;
    const source = plan ? dance : CORPUS;
    for (const [k, v] of usable) { sum += v; if (u < sum) return {plannedBars: k, planSource: source}; }
    return {plannedBars: counts[counts.length - 1][0], planSource: source};
  }

  /**
   * Sample one tune: {model (a Model), key ("D major"), temperature > 0, minP in [0, 1) (default 0.05, as
   * musicgate generate: tokens less than minP times as likely as the likeliest are left out, EOS and
   * bar lines never), seed, maxNotes, minNotes, bars (a model with form inputs: the planned bar lines, a
   * whole number >= 1 or "corpus", drawn from the model's barLines with the seed; default "corpus" for a
   * model with barLines, else 16, as musicgate generate; other models ignore it: see barPlan), maxRun (most
   * notes of one pitch in a row, rests and ties not breaking a run; default 6 as musicgate generate, null: no limit),
   * maxLoop (most times a passage of 1-4 written bars, by its pitches, comes in a row: the bar that would begin
   * its next playing may not start with its first pitch; default 4 as musicgate generate, null: no limit),
   * meter ("6/8"; left out: the model draws one), dance ("jig": its meter, and its plans for "corpus")}.
   * Returns {ids, keep (per token: the drawn units' keep values), units, notes, bars (the decoded bar
   * lines), plannedBars (the plan the model read; null for a model without form inputs), planSource
   * ("corpus", "given", "default" or null), barLines (the bar-line tokens written, as the plan counts
   * them), planRead (the plan read at the end: plannedBars, or twice the bar lines where a first part
   * closed past half of it), ...}. For one seed and plan the tune is the same whether the plan was given or drawn.
   */
  function sampleTune(model, opts) {
    const V = model.vocab || (model.vocab = new Vocab(model.tokenizer));
    const o = Object.assign({temperature: 1, seed: 0, maxNotes: 64}, opts);
    if (o.minP === undefined) o.minP = DEFAULT_MIN_P;  // also when given as undefined (the panel's generate)
    if (o.maxRun === undefined) o.maxRun = DEFAULT_MAX_RUN;
    if (o.maxLoop === undefined) o.maxLoop = DEFAULT_MAX_LOOP;
    const keyId = checkOptions(V, o);
    if (o.dance !== undefined && o.dance !== null && o.dance !== "") {  // a dance: its meter (and its plans)
      const d = (model.dances || {})[o.dance];
      if (!d) throw new Error(`unknown dance ${JSON.stringify(o.dance)}: give one of ${Object.keys(model.dances || {}).join(", ")}`);
      if (o.meter !== undefined && o.meter !== null && o.meter !== "" && o.meter !== d.meter) {
        throw new Error(`a ${o.dance} is in ${d.meter}, not ${o.meter}: give the dance or the meter`);
      }
      o.meter = d.meter;
    }
    const meterId = o.meter === undefined || o.meter === null || o.meter === "" ? null : V.meterId(o.meter);
    let {plannedBars, planSource} = barPlan(model, o.bars, o.seed, o.dance, meterId === null ? null : o.meter);
    // a tune whose meter the model draws: the meter comes first, reading no plan, then the plan (drawn from the
    // corpus's tunes in that meter, or as given), and the model reads the header again with it, so a plan drawn
    // and the same plan given make the same tune (musicgate.generation.plans.MeterPlans)
    const planAfterMeter = meterId === null && plannedBars !== null;
    const fixedPlan = plannedBars;
    if (planAfterMeter) plannedBars = -1;
    const length = o.maxNotes, minNotes = o.minNotes === undefined ? Math.min(DEFAULT_MIN_NOTES, length) : o.minNotes;
    // the default floor lifts once a tune is in its last planned bar (a short plan is not run past), as Python's
    let lastBar = o.minNotes === undefined && plannedBars !== null ? plannedBars - 1 : Infinity;
    if (minNotes > length) throw new Error(`minNotes ${minNotes} is greater than maxNotes ${length}`);
    const grammar = model.grammar || (model.grammar = new Grammar(V, true));
    const rand = mulberry32(o.seed);
    const units = model.units.length ? model.units : Array.from({length: Math.min(6, model.hidden)}, (_, i) => i);
    const ids = meterId === null ? [V.bos, keyId] : [V.bos, keyId, meterId], keep = [];
    const gs = grammar.start(ids);
    let state = model.initState(plannedBars), out = null;
    for (const t of ids) { out = model.step(t, state); state = out.state; keep.push(units.map(u => out.keep[u])); }
    let notes = 0, steps = 0, runPitch = -1, run = 0, lines = 0, barNow = [];
    const barsDone = [];  // the written bars so far, as their pitch tokens ("62,64"), for maxLoop
    for (const t of ids) if (V.pitchOf[t] >= 0) { run = V.pitchOf[t] === runPitch ? run + 1 : 1; runPitch = V.pitchOf[t]; }
    const budget = MAX_TOKENS_PER_NOTE * length + 64;
    for (;;) {
      const mask = grammar.allowed(gs);
      if (steps === 0 && meterId === null) mask[V.meterUnknown] = 0;  // a known meter, as musicgate generate draws
      if (notes < minNotes && lines < lastBar) mask[V.eos] = 0;
      if (notes >= length) {  // closing: no new note (DUR, bar lines, REST, TIE, EOS), EOS once allowed
        const strict = grammar.allowed(gs), loose = grammar.allowed(gs, false);  // the rules of style give way
        for (let t = 0; t < V.size; t++) if (loose[t] && !strict[t]) mask[t] = 1;
        for (let t = 0; t < V.size; t++) {
          if (!(V.durSteps[t] > 0 || V.isBar(t) || t === V.rest || t === V.tie || t === V.eos)) mask[t] = 0;
        }
        if (mask[V.eos]) { mask.fill(0); mask[V.eos] = 1; }
        else if ((gs.open === 2 || gs.ending === 1) && grammar.repeatEnd >= 0 && mask[grammar.repeatEnd]) {
          mask.fill(0); mask[grammar.repeatEnd] = 1;
        }
      } else if (steps >= budget) {  // a model that stopped playing notes: note tokens only, if any
        const only = mask.map((m, t) => (m && !(V.isBar(t) || t === V.rest || t === V.tie)) ? 1 : 0);
        if (only.some(x => x)) mask.set(only);
      }
      const loopHead = o.maxLoop !== null && notes < length && !barNow.length ? nextLoopHead(barsDone, o.maxLoop) : null;
      if (loopHead !== null) {  // a passage played maxLoop times in a row: its next playing may not start (sample._Loops)
        const other = mask.map((m, t) => (m && t !== loopHead) ? 1 : 0);
        if (other.some(x => x)) mask.set(other);
      }
      if (o.maxRun !== null && notes < length && run >= o.maxRun) {  // a run at its limit: another pitch, if any
        const other = mask.map((m, t) => (m && V.pitchOf[t] !== runPitch) ? 1 : 0);
        if (other.some(x => x)) mask.set(other);
      }
      const t = draw(out.logits, mask, o.temperature, rand, o.minP, u => u === V.eos || V.isBar(u));
      const partsBefore = gs.parts;
      grammar.advance(gs, t);
      ids.push(t);
      steps += 1;
      if (V.pitchOf[t] >= 0) { notes += 1; run = V.pitchOf[t] === runPitch ? run + 1 : 1; runPitch = V.pitchOf[t]; }
      if (V.isBar(t)) lines += 1;
      if (V.isBar(t)) { if (barNow.length) { barsDone.push(barNow.join(",")); barNow = []; } }
      else if (V.pitchOf[t] >= 0) barNow.push(t);
      if (partsBefore === 0 && gs.parts > 0 && state.form && state.form.total >= 0 && 2 * lines > state.form.total) {
        // a first part past half the plan: the plan stretched to twice the bar lines so far (sample._stretch)
        state.form = {count: state.form.count, total: 2 * lines};
        if (lastBar !== Infinity) lastBar = 2 * lines - 1;
      }
      if (t === V.eos) break;
      if (planAfterMeter && steps === 1) {  // the meter drawn: its plan, and the header read again with it
        if (planSource === CORPUS) ({plannedBars, planSource} = barPlan(model, CORPUS, o.seed, undefined, V.words[t].slice(6)));
        else plannedBars = fixedPlan;
        if (o.minNotes === undefined) lastBar = plannedBars - 1;
        state = model.initState(plannedBars); keep.length = 0;
        for (const u of ids.slice(0, -1)) { out = model.step(u, state); state = out.state; keep.push(units.map(k => out.keep[k])); }
      }
      out = model.step(t, state); state = out.state;
      keep.push(units.map(u => out.keep[u]));
    }
    const noteKeep = perNote(V, ids, keep, model.cell === "rnn" ? "last" : "mean");
    const tune = decode(V, ids);
    const shift = model.register === null || model.register === undefined ? 0
      : octaveShift(tune.notes.map(n => n.pitch), model.register, V.pitchRange);
    for (const n of tune.notes) n.pitch += shift;
    return Object.assign(tune, {ids, keep, noteKeep, units, cell: model.cell, model: model.name, octaveShift: shift,
                                          temperature: o.temperature, minP: o.minP, maxRun: o.maxRun, maxLoop: o.maxLoop, seed: o.seed, plannedBars, planSource,
                                          meterSource: meterId === null ? "model" : "given", dance: o.dance || null,
                                          barLines: ids.filter(t => V.isBar(t)).length, planRead: state.form ? state.form.total : null});
  }

  /** The pitch token that would begin the next playing of a passage of 1-4 bars written `limit` times in a
   * row at the end of `bars` (each a string of its pitch tokens), or null (musicgate.generation.sample._Loops). */
  function nextLoopHead(bars, limit) {
    for (let n = 1; n <= 4; n++) {
      if (bars.length < limit * n) continue;
      let same = true;
      for (let i = 1; i <= n * (limit - 1) && same; i++) same = bars[bars.length - i] === bars[bars.length - i - n];
      if (same) { const first = bars[bars.length - n]; return first ? Number(first.split(",")[0]) : null; }
    }
    return null;
  }

  /** Semitones (a multiple of 12) that bring the median of `pitches` nearest `register` with every pitch
   * inside `range` ([lo, hi]); 0 for none (musicgate.generation.api.octave_shift). */
  function octaveShift(pitches, register, range) {
    if (!pitches.length) return 0;
    const s = pitches.slice().sort((a, b) => a - b), n = s.length;
    const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    const ks = [-4, -3, -2, -1, 0, 1, 2, 3, 4].sort((a, b) =>
      Math.abs(median + 12 * a - register) - Math.abs(median + 12 * b - register) || Math.abs(a) - Math.abs(b));
    const k = ks.find(k => range[0] <= s[0] + 12 * k && s[n - 1] + 12 * k <= range[1]);
    return k === undefined ? 0 : 12 * k;
  }

  /** The share of `model`'s tunes in `key` that it starts in `meter` ("6/8"): its probability of that METER
   * token after BOS KEY, without a plan, among the METER tokens (as musicgate.generation.api.rare_meter_note). */
  function meterShare(model, key, meter) {
    const V = model.vocab || (model.vocab = new Vocab(model.tokenizer));
    const logits = model.logitsOf([V.bos, V.keyId(key)], -1)[1];
    const wanted = V.meterId(meter);
    let best = -Infinity, sum = 0;
    for (let m = V.meterBase; m <= V.meterUnknown; m++) best = Math.max(best, logits[m]);
    for (let m = V.meterBase; m <= V.meterUnknown; m++) sum += Math.exp(logits[m] - best);
    return Math.exp(logits[wanted] - best) / sum;
  }

  /** The line musicgate generate prints when `model` starts under RARE_METER of its tunes in `key` in
   * `meter`, or "" (also for no meter asked). */
  function meterNote(model, key, meter) {
    if (meter === undefined || meter === null || meter === "") return "";
    const p = meterShare(model, key, meter);
    if (p >= RARE_METER) return "";
    return `${model.name} starts ${(100 * p).toFixed(1)}% of its tunes in ${key} in ${meter}: it saw few tunes in ` +
           `this meter, so its bars will be full but its rhythms may not sound like ${meter}`;
  }

  /** One token from softmax((logits - max) / T) over the allowed tokens whose probability is at least
   * minP times the likeliest's (min-p; 0 keeps them all; `exempt`, a token id or a test of one, is
   * always kept: the sampler exempts EOS and the bar lines, as Python's sampler does), by the inverse CDF. */
  function draw(logits, mask, temperature, rand, minP, exempt) {
    const free = typeof exempt === "function" ? exempt : (t => t === exempt);
    let best = -Infinity;
    for (let t = 0; t < mask.length; t++) if (mask[t] && logits[t] > best) best = logits[t];
    if (best === -Infinity) throw new Error("the grammar allows no token here (a bug: please report it)");
    const c = new Float64Array(mask.length);
    let sum = 0;
    const floor = minP > 0 ? Math.log(minP) : -Infinity;
    const keep = t => mask[t] && (free(t) || (logits[t] - best) / temperature >= floor);
    for (let t = 0; t < mask.length; t++) {
      if (keep(t)) sum += Math.exp((logits[t] - best) / temperature);
      c[t] = sum;
    }
    const u = sum * (1 - rand());
    for (let t = 0; t < mask.length; t++) if (keep(t) && c[t] >= u) return t;
    for (let t = mask.length - 1; t >= 0; t--) if (mask[t]) return t;
    return -1;
  }

  live.DEFAULT_BARS = DEFAULT_BARS;
  live.DEFAULT_MAX_RUN = DEFAULT_MAX_RUN;
  live.DEFAULT_MAX_LOOP = DEFAULT_MAX_LOOP;
  live.MIN_DRAWN_BARS = MIN_DRAWN_BARS;
  live.CORPUS = CORPUS;
  live.barPlan = barPlan;
  live.mulberry32 = mulberry32;
  live.draw = draw;
  live.Vocab = Vocab;
  live.Grammar = Grammar;
  live.decode = decode;
  live.formSpans = formSpans;
  live.noteIndex = noteIndex;
  live.perNote = perNote;
  live.sampleTune = sampleTune;
  live.meterShare = meterShare;
  live.octaveShift = octaveShift;
  live.meterNote = meterNote;
  live.RARE_METER = RARE_METER;
})(typeof window !== "undefined" ? window : globalThis);
