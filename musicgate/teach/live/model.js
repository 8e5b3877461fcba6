/* musicgate live page: a recurrent language model (embedding, RNN/LSTM/GRU layers, linear head)
 * computed step by step exactly as PyTorch computes it.
 *
 * A model file (live/model-NAME.js, written by musicgate.teach.live.export_model) registers a JSON
 * string in window.MUSICGATE_MODELS[NAME]: a header (cell, hidden, layers, embed, vocab_size,
 * tensors: name, shape, offset in floats), the tokenizer (config and vocabulary), the last-layer
 * units the gate view draws, and `data`: every weight as Float32 little-endian, base64.
 *
 * Equations (torch.nn, gate rows in weight_ih / weight_hh as PyTorch stores them):
 *   RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM: rows i|f|g|o; i,f,o = sigmoid, g = tanh; c' = f*c + i*g; h' = o*tanh(c')
 *   GRU:  rows r|z|n; r,z = sigmoid(W_i x + b_i + W_h h + b_h);
 *         n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); h' = (1-z)*n + z*h
 *
 * Form inputs (musicgate.nn.models.FormInputs; header `form: {buckets P, barline_ids}` and tensors
 * form.count.weight, form.left.weight of shape [P+1, embed]): the layer-0 input x is the token's
 * embedding plus count[c] + left[l], where count = the bar-line tokens read so far, this one
 * included, c = min(count, P-1) and l = min(max(plan - count, 0), P-1); without a plan (-1) c = l = P.
 * The state carries {count, total: plan or -1} as its `form` property. Such a model may also have
 * `barLines` ({"17": training tunes with 17 bar lines, ...}), from which grammar.js draws the plans;
 * the model keeps them as `barLines`, [[bar lines, tunes], ...] in increasing order, or null, and per time
 * signature `barLinesByMeter` ({"6/8": [[bar lines, tunes], ...]}: a tune in such a meter draws from them). `dances`
 * ({jig: {meter: "6/8", plan: [[bar lines, tunes], ...]}}) name the dances in the model's meters, and for
 * a model with form inputs the corpus's bar-line counts of each (musicgate.music.meters.DANCE_PLANS).
 *
 * Lookback inputs (musicgate.nn.lookback; header `lookback: {bars [k_1..k_K], clock {dur_ids,
 * dur_steps, pending_ids, line_ids, pad_id}, span S}` and tensors look.table.weight [K*(V+1), 32],
 * look.proj.weight [embed, K*32]): the layer-0 input x also gets proj @ concat_j(table[l_j + j*(V+1)]),
 * where l_j is the token that came next at the same clock (bar, pos, phase) k_j bars earlier, or V
 * ("none"). The clock after the tokens read so far: bar = bar lines, pos = grid steps of the DURs
 * since the last bar line, phase = 1 after a PITCH/REST/TIE (a DUR is due). Per token: the memory
 * records the token at the clock before it (only when pos < S), the clock advances over the token,
 * then the lookups for the new clock (none when pos >= S); PAD changes nothing and looks up none.
 * That is reference_lookback's rule, as the model's ring buffer computes it. The state carries
 * {bar, pos, phase, seen, prev, run} as its `look` property: seen maps bar -> Map(pos*2 + phase -> token)
 * for the last max(k) + 1 bars (older bars are never looked up); prev holds the lookback ids last read
 * out and run, per distance, how many tokens in a row matched them; steps copy what they change, so a
 * state can be stepped from twice.
 *
 * Options of the lookback header (musicgate.nn.lookback): `runs` (tensors look.run_table.weight
 * [K*6, 32], look.run_proj.weight [embed, K*32]): x also gets run_proj @ concat_j(run_table[c_j + 6j]),
 * c_j the class of run_j (0, 1, 2-3, 4-7, 8-15, 16+); `position` (look.pos.weight [S+1, embed]): x also
 * gets pos[min(pos, S)]; `copy` with `copy_scale` (look.copy_state.weight [K, hidden],
 * look.copy_state.bias [K], look.copy_run.weight [K*6, 1]): after the head, the logit of each token
 * l_j < V gets b_j = copy_state.bias[j] + copy_state.weight[j] . h + copy_scale * copy_run[c_j + 6j], h
 * the last layer's output; a token several distances name gets the largest of their b_j.
 *
 * Tonic frame (musicgate.nn.tonic; header `tonic: [key_base, modes, pitch_base, pitches]`, no tensors):
 * the model reads and writes every tune as if its tonic were C. With t the tonic of the last KEY token
 * read (this one included; none: nothing moves) and s = ((t + 6) mod 12) - 6, each token is moved into
 * the frame before everything above (PITCH j -> pitch_base + (j - s) mod pitches, j counted from
 * pitch_base; KEY (mode m, tonic u) -> (m, (u - t) mod 12)), and after the head (and the copy head)
 * the logit of token v is the frame's logit of v's frame token. The state carries the last KEY id as
 * its `frame` property (-1: none yet).
 */
(function (root) {
  "use strict";
  const live = root.MusicgateLive = root.MusicgateLive || {};
  const GATES = {rnn: 1, lstm: 4, gru: 3};
  const LOOK_RANK = 32;  // musicgate.nn.lookback.RANK
  const RUN_BUCKETS = [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5];  // musicgate.nn.lookback.RUN_BUCKETS
  const runClass = run => RUN_BUCKETS[Math.min(run, RUN_BUCKETS.length - 1)];

  function base64Floats(text) {
    const bin = atob(text);
    if (bin.length % 4 !== 0) throw new Error("the weights are not whole 4-byte floats");
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const view = new DataView(bytes.buffer);
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);  // little-endian
    return out;
  }

  function sigmoid(x) { return 1 / (1 + Math.exp(-x)); }

  // y = W x + b for W (rows x cols, row-major) starting at offset w in `data`; adds into y.
  function matvec(data, w, rows, cols, x, y) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const o = w + r * cols;
      for (let c = 0; c < cols; c++) s += data[o + c] * x[c];
      y[r] += s;
    }
  }

  class Model {
    /** Build from a registered payload (a JSON string or the parsed object); throws a clear Error. */
    constructor(payload, file) {
      const where = file || "the model file";
      let p = payload;
      if (typeof p === "string") {
        try { p = JSON.parse(p); } catch (err) { throw new Error(`${where} could not be parsed (${err.message})`); }
      }
      if (!p || typeof p !== "object" || !(p.cell in GATES) || !Array.isArray(p.tensors) || typeof p.data !== "string"
          || !p.tokenizer || !Array.isArray(p.tokenizer.vocab)) {
        throw new Error(`${where} is not a musicgate model (no cell, tensors, tokenizer or data)`);
      }
      let data;
      try { data = base64Floats(p.data); } catch (err) { throw new Error(`${where}: its weights cannot be read (${err.message})`); }
      this.name = p.name; this.label = p.label || p.name; this.cell = p.cell;
      this.hidden = p.hidden; this.layers = p.layers; this.embedSize = p.embed; this.vocabSize = p.vocab_size;
      this.tokenizer = p.tokenizer; this.keys = p.keys || {}; this.units = (p.units || []).filter(u => u >= 0 && u < p.hidden);
      this.data = data;
      this.t = {};
      for (const t of p.tensors) {
        const size = t.shape.reduce((a, b) => a * b, 1);
        if (!(t.offset >= 0) || t.offset + size > data.length) {
          throw new Error(`${where}: tensor ${t.name} lies outside its ${data.length} weights (file cut short?)`);
        }
        this.t[t.name] = {offset: t.offset, shape: t.shape};
      }
      const need = (name, shape) => {
        const t = this.t[name];
        if (!t || t.shape.join("x") !== shape.join("x")) {
          throw new Error(`${where}: tensor ${name} should have shape ${shape.join("x")}`);
        }
        return t.offset;
      };
      const g = GATES[this.cell] * this.hidden;
      this.embedAt = need("embed.weight", [this.vocabSize, this.embedSize]);
      this.layer = [];
      for (let k = 0; k < this.layers; k++) {
        const input = k === 0 ? this.embedSize : this.hidden;
        this.layer.push({
          input,
          wih: need(`rnn.weight_ih_l${k}`, [g, input]), whh: need(`rnn.weight_hh_l${k}`, [g, this.hidden]),
          bih: need(`rnn.bias_ih_l${k}`, [g]), bhh: need(`rnn.bias_hh_l${k}`, [g]),
        });
      }
      this.headW = need("head.weight", [this.vocabSize, this.hidden]);
      this.headB = need("head.bias", [this.vocabSize]);
      this.form = null;
      if (p.form !== undefined && p.form !== null) {
        const f = p.form, P = f.buckets;
        if (!Number.isInteger(P) || P < 1 || !Array.isArray(f.barline_ids) || !f.barline_ids.length
            || !f.barline_ids.every(i => Number.isInteger(i) && i >= 0 && i < this.vocabSize)) {
          throw new Error(`${where}: its form header should be {buckets: a whole number >= 1, barline_ids: ` +
                          `token ids below ${this.vocabSize}}, got ${JSON.stringify(f)}`);
        }
        const isBar = new Uint8Array(this.vocabSize);
        for (const i of f.barline_ids) isBar[i] = 1;
        this.form = {buckets: P, barlineIds: f.barline_ids.slice(), isBar,
                     count: need("form.count.weight", [P + 1, this.embedSize]),
                     left: need("form.left.weight", [P + 1, this.embedSize])};
      }
      this.barLines = null;
      if (p.barLines !== undefined && p.barLines !== null) {
        const b = p.barLines, pairs = typeof b === "object" && !Array.isArray(b)
          ? Object.entries(b).map(([k, v]) => [/^[0-9]+$/.test(k) ? Number(k) : NaN, v]) : [];
        if (!this.form || !pairs.length || !pairs.every(([k, v]) => k >= 1 && Number.isInteger(v) && v >= 0)
            || !pairs.some(([, v]) => v > 0)) {
          throw new Error(`${where}: its barLines should be {bar lines (a whole number >= 1): tunes (a whole number ` +
                          `>= 0), some above 0}, on a model with form inputs; got ${JSON.stringify(b).slice(0, 200)}`);
        }
        this.barLines = pairs.filter(([, v]) => v > 0).sort((x, y) => x[0] - y[0]);
      }
      this.barLinesByMeter = {};  // "6/8" -> [[bar lines, tunes], ...]: the plans of a tune in that meter
      if (p.barLinesByMeter !== undefined && p.barLinesByMeter !== null) {
        const b = p.barLinesByMeter, ok = this.barLines && typeof b === "object" && !Array.isArray(b) &&
          Object.values(b).every(v => Array.isArray(v) && v.length && v.every(x => Array.isArray(x) && x.length === 2 &&
            Number.isInteger(x[0]) && x[0] >= 1 && Number.isInteger(x[1]) && x[1] > 0));
        if (!ok) {
          throw new Error(`${where}: its barLinesByMeter should be {meter: [[bar lines, tunes], ...]}, on a model with ` +
                          `barLines; got ${JSON.stringify(b).slice(0, 200)}`);
        }
        for (const [m, v] of Object.entries(b)) this.barLinesByMeter[m] = v.slice().sort((x, y) => x[0] - y[0]);
      }
      this.modeNotes = {};   // mode -> the line generate prints for a mode the model rarely saw
      if (p.modeNotes !== undefined && p.modeNotes !== null) {
        const n = p.modeNotes;
        if (typeof n !== "object" || Array.isArray(n) || !Object.values(n).every(v => typeof v === "string")) {
          throw new Error(`${where}: its modeNotes should be {mode: a line of text}, got ${JSON.stringify(n).slice(0, 200)}`);
        }
        this.modeNotes = Object.assign({}, n);
      }
      this.register = null;  // the training tunes' median pitch: tunes are moved by octaves toward it
      if (p.register !== undefined && p.register !== null) {
        if (typeof p.register !== "number" || !Number.isFinite(p.register) || p.register < 0 || p.register > 127) {
          throw new Error(`${where}: its register should be a MIDI pitch (0-127), got ${JSON.stringify(p.register)}`);
        }
        this.register = p.register;
      }
      this.dances = {};  // dance -> {meter: "6/8", plan: [[bar lines, tunes], ...] (form models)}: DANCES, DANCE_PLANS
      if (p.dances !== undefined && p.dances !== null) {
        const d = p.dances, ok = typeof d === "object" && !Array.isArray(d) && Object.values(d).every(v =>
          v && typeof v.meter === "string" && (v.plan === undefined || (this.form && Array.isArray(v.plan) && v.plan.length &&
            v.plan.every(x => Array.isArray(x) && x.length === 2 && Number.isInteger(x[0]) && x[0] >= 1 && Number.isInteger(x[1]) && x[1] > 0))));
        if (!ok) {
          throw new Error(`${where}: its dances should be {dance: {meter: "6/8", plan: [[bar lines, tunes], ...] on a model ` +
                          `with form inputs}}, got ${JSON.stringify(d).slice(0, 200)}`);
        }
        this.dances = d;
      }
      this.look = null;
      if (p.lookback !== undefined && p.lookback !== null) this.look = this._lookback(p.lookback, where, need);
      this.frame = null;
      if (p.tonic !== undefined && p.tonic !== null) this.frame = this._tonic(p.tonic, where);
      if (this.tokenizer.vocab.length !== this.vocabSize) {
        throw new Error(`${where}: ${this.tokenizer.vocab.length} vocabulary words for ${this.vocabSize} outputs`);
      }
    }

    /** The lookback header checked and turned into tables; throws a clear Error when it does not fit. */
    _lookback(lb, where, need) {
      const V = this.vocabSize, c = (lb && lb.clock) || {};
      const ids = a => Array.isArray(a) && a.every(i => Number.isInteger(i) && i >= 0 && i < V);
      const bars = lb && lb.bars;
      let bad = null;
      if (!Array.isArray(bars) || !bars.length || !bars.every((k, i) => Number.isInteger(k) && k >= 1 && k <= 64
          && (i === 0 || k > bars[i - 1]))) bad = "bars: distinct whole numbers 1-64 in increasing order";
      else if (!Number.isInteger(lb.span) || lb.span < 1) bad = "span: a whole number of grid steps >= 1";
      else if (!ids(c.dur_ids) || !Array.isArray(c.dur_steps) || c.dur_steps.length !== c.dur_ids.length
               || !c.dur_steps.every(n => Number.isInteger(n) && n >= 1)) bad = "clock.dur_ids and clock.dur_steps: " +
               `token ids below ${V} and their step counts >= 1`;
      else if (!ids(c.pending_ids) || !ids(c.line_ids) || !c.line_ids.length || !ids([c.pad_id])) {
        bad = `clock.pending_ids, clock.line_ids (not empty) and clock.pad_id: token ids below ${V}`;
      }
      if (bad) throw new Error(`${where}: its lookback header should have ${bad}, got ${JSON.stringify(lb).slice(0, 200)}`);
      const flag = f => lb[f] === undefined || lb[f] === null || lb[f] === true || lb[f] === false;
      if (!["runs", "position", "copy"].every(flag) || (lb.copy && !(typeof lb.copy_scale === "number" && lb.copy_scale > 0))) {
        throw new Error(`${where}: its lookback header should have runs, position and copy true or false, and with ` +
                        `copy a copy_scale > 0, got ${JSON.stringify(lb).slice(0, 200)}`);
      }
      const K = bars.length, steps = new Int32Array(V), pending = new Uint8Array(V), line = new Uint8Array(V);
      c.dur_ids.forEach((t, i) => { steps[t] = c.dur_steps[i]; });
      for (const t of c.pending_ids) pending[t] = 1;
      for (const t of c.line_ids) line[t] = 1;
      const L = {bars: bars.slice(), span: lb.span, pad: c.pad_id, steps, pending, line, back: bars[K - 1],
                 table: need("look.table.weight", [K * (V + 1), LOOK_RANK]),
                 proj: need("look.proj.weight", [this.embedSize, K * LOOK_RANK]),
                 runs: null, position: null, copy: null};
      if (lb.runs) L.runs = {table: need("look.run_table.weight", [K * 6, LOOK_RANK]),
                             proj: need("look.run_proj.weight", [this.embedSize, K * LOOK_RANK])};
      if (lb.position) L.position = need("look.pos.weight", [lb.span + 1, this.embedSize]);
      if (lb.copy) L.copy = {w: need("look.copy_state.weight", [K, this.hidden]), b: need("look.copy_state.bias", [K]),
                             run: need("look.copy_run.weight", [K * 6, 1]), scale: lb.copy_scale};
      return L;
    }

    /** The tonic frame's tables from its header [key_base, modes, pitch_base, pitches]; throws a clear
     * Error when it does not fit the vocabulary (as musicgate.nn.tonic.check_tonic_spec). */
    _tonic(spec, where) {
      const V = this.vocabSize;
      const ok = Array.isArray(spec) && spec.length === 4 && spec.every(Number.isInteger);
      const [kb, modes, pb, n] = ok ? spec : [0, 0, 0, 0];
      if (!ok || kb < 0 || modes < 1 || pb < 0 || n < 12 || kb + 12 * modes > V || pb + n > V
          || (kb < pb + n && pb < kb + 12 * modes)) {
        throw new Error(`${where}: its tonic header should be [first KEY id, modes, first PITCH id, pitches >= 12], ` +
                        `KEY and PITCH tokens apart within ${V} tokens, got ${JSON.stringify(spec)}`);
      }
      const table = [];
      for (let t = 0; t <= 12; t++) {
        const row = new Int32Array(V);
        for (let v = 0; v < V; v++) row[v] = v;
        if (t < 12) {
          const s = ((t + 6) % 12) - 6;
          for (let j = 0; j < n; j++) row[pb + j] = pb + (((j - s) % n) + n) % n;
          for (let k = 0; k < 12 * modes; k++) row[kb + k] = kb + Math.floor(k / 12) * 12 + ((k % 12) - t + 12) % 12;
        }
        table.push(row);
      }
      const tonicOf = v => (v >= kb && v < kb + 12 * modes ? (v - kb) % 12 : 12);
      return {table, tonicOf, isKey: v => v >= kb && v < kb + 12 * modes};
    }

    /** True when the model reads and writes pitches relative to the key's tonic. */
    get hasTonicFrame() { return this.frame !== null; }

    /** The lookback memory at the start of a tune. */
    _emptyLook() {
      const K = this.look.bars.length;
      return {bar: 0, pos: 0, phase: 0, seen: new Map(), prev: new Int32Array(K).fill(this.vocabSize), run: new Int32Array(K)};
    }

    /** True when the model reads the bars so far and the bars left of a planned length. */
    get hasFormInputs() { return this.form !== null; }

    /** True when the model reads what the tune played k bars ago at the same point of the bar. */
    get hasLookback() { return this.look !== null; }

    /** The lookback memory after `token` read from memory `was`, and the lookback ids for the next
     * input (Int32Array K; V = none). `was` is left as it was. */
    lookbackAfter(token, was) {
      const L = this.look, V = this.vocabSize, K = L.bars.length;
      const ids = new Int32Array(K).fill(V);
      if (token === L.pad) return {memory: was, ids};
      let {bar, pos, phase} = was;
      const run = new Int32Array(K);
      for (let j = 0; j < K; j++) run[j] = was.prev[j] === token ? was.run[j] + 1 : 0;
      const seen = new Map();
      if (pos < L.span) {  // the token that came next at this clock
        const row = new Map(was.seen.get(bar) || []);
        row.set(pos * 2 + phase, token);
        seen.set(bar, row);
      }
      if (L.line[token]) { bar += 1; pos = 0; }
      pos += L.steps[token];
      phase = L.pending[token];
      for (const [b, row] of was.seen) if (b >= bar - L.back && !seen.has(b)) seen.set(b, row);
      if (pos < L.span) {
        for (let j = 0; j < K; j++) {
          const row = seen.get(bar - L.bars[j]), got = row && row.get(pos * 2 + phase);
          if (got !== undefined) ids[j] = got;
        }
      }
      return {memory: {bar, pos, phase, seen, prev: ids, run}, ids};
    }

    /**
     * Zero state: per layer {h, c} (c for the LSTM only). For a model with form inputs the array also
     * has `form` = {count: 0, total}: total = `plan`, the planned bar lines (a whole number >= 0), or
     * -1 (no plan) when `plan` is left out, null or -1. Other models ignore `plan`. For a model with
     * lookback inputs the array also has `look`: the empty memory at the start of a tune.
     */
    initState(plan) {
      const s = [];
      for (let k = 0; k < this.layers; k++) {
        s.push({h: new Float64Array(this.hidden), c: this.cell === "lstm" ? new Float64Array(this.hidden) : null});
      }
      if (this.form) {
        const none = plan === undefined || plan === null || plan === -1;
        if (!none && !(Number.isInteger(plan) && plan >= 0)) {
          throw new Error(`plan must be a whole number of bar lines >= 0 (or -1 for no plan), got ${plan}`);
        }
        s.form = {count: 0, total: none ? -1 : plan};
      }
      if (this.look) s.look = this._emptyLook();
      if (this.frame) s.frame = -1;
      return s;
    }

    /**
     * One step: token id -> {logits (Float64Array vocab), state, keep}. `keep` is the last layer's
     * memory-keeping value per unit: LSTM forget gate f, GRU update gate z, RNN hidden state h.
     */
    step(token, state) {
      if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
        throw new Error(`token id ${token} is not in this model's vocabulary of ${this.vocabSize}`);
      }
      const d = this.data, H = this.hidden;
      const outer = token;
      let row = null;
      const next = [];
      if (this.frame) {  // into the frame of the last KEY token read
        const F = this.frame, was = state.frame === undefined ? -1 : state.frame;
        const key = F.isKey(outer) ? outer : was;
        row = F.table[key >= 0 ? F.tonicOf(key) : 12];
        token = row[outer];
        next.frame = key;
      }
      let x = new Float64Array(this.embedSize);
      for (let i = 0; i < this.embedSize; i++) x[i] = d[this.embedAt + token * this.embedSize + i];
      if (this.form) {
        const F = this.form, P = F.buckets, E = this.embedSize;
        const was = state.form || {count: 0, total: -1};
        const count = was.count + F.isBar[token], total = was.total;
        const c = total >= 0 ? Math.min(count, P - 1) : P;
        const l = total >= 0 ? Math.min(Math.max(total - count, 0), P - 1) : P;
        // as PyTorch: the two rows summed first (float32), then added to the embedding
        for (let i = 0; i < E; i++) x[i] += Math.fround(d[F.count + c * E + i] + d[F.left + l * E + i]);
        next.form = {count, total};
      }
      let look = null;
      if (this.look) {
        const L = this.look, V = this.vocabSize, E = this.embedSize, R = LOOK_RANK, K = L.bars.length, KR = K * R;
        look = this.lookbackAfter(token, state.look || this._emptyLook());
        const mem = look.memory;
        const z = new Float64Array(KR);
        for (let j = 0; j < K; j++) {
          const row = L.table + (look.ids[j] + j * (V + 1)) * R;
          for (let i = 0; i < R; i++) z[j * R + i] = d[row + i];
        }
        const extra = new Float64Array(E);
        matvec(d, L.proj, E, KR, z, extra);
        let runExtra = null;
        if (L.runs) {
          const zr = new Float64Array(KR);
          for (let j = 0; j < K; j++) {
            const row = L.runs.table + (runClass(mem.run[j]) + 6 * j) * R;
            for (let i = 0; i < R; i++) zr[j * R + i] = d[row + i];
          }
          runExtra = new Float64Array(E);
          matvec(d, L.runs.proj, E, KR, zr, runExtra);
        }
        const posRow = L.position === null ? -1 : L.position + Math.min(mem.pos, L.span) * E;
        for (let i = 0; i < E; i++) {  // as PyTorch: each float32 term added in turn, then to the embedding
          let e = Math.fround(extra[i]);
          if (runExtra) e = Math.fround(e + Math.fround(runExtra[i]));
          if (posRow >= 0) e = Math.fround(e + d[posRow + i]);
          x[i] += e;
        }
        next.look = mem;
      }
      let keep = null;
      for (let k = 0; k < this.layers; k++) {
        const L = this.layer[k], h = state[k].h, G = GATES[this.cell] * H;
        const gi = new Float64Array(G), gh = new Float64Array(G);
        for (let r = 0; r < G; r++) { gi[r] = d[L.bih + r]; gh[r] = d[L.bhh + r]; }
        matvec(d, L.wih, G, L.input, x, gi);
        matvec(d, L.whh, G, H, h, gh);
        const h2 = new Float64Array(H);
        let c2 = null;
        keep = new Float64Array(H);
        if (this.cell === "rnn") {
          for (let u = 0; u < H; u++) { h2[u] = Math.tanh(gi[u] + gh[u]); keep[u] = h2[u]; }
        } else if (this.cell === "lstm") {
          c2 = new Float64Array(H);
          const c = state[k].c;
          for (let u = 0; u < H; u++) {
            const i = sigmoid(gi[u] + gh[u]), f = sigmoid(gi[H + u] + gh[H + u]);
            const g = Math.tanh(gi[2 * H + u] + gh[2 * H + u]), o = sigmoid(gi[3 * H + u] + gh[3 * H + u]);
            c2[u] = f * c[u] + i * g;
            h2[u] = o * Math.tanh(c2[u]);
            keep[u] = f;
          }
        } else {
          for (let u = 0; u < H; u++) {
            const r = sigmoid(gi[u] + gh[u]), z = sigmoid(gi[H + u] + gh[H + u]);
            const n = Math.tanh(gi[2 * H + u] + r * gh[2 * H + u]);
            h2[u] = (1 - z) * n + z * h[u];
            keep[u] = z;
          }
        }
        next.push({h: h2, c: c2});
        x = h2;
      }
      const logits = new Float64Array(this.vocabSize);
      for (let v = 0; v < this.vocabSize; v++) logits[v] = d[this.headB + v];
      matvec(d, this.headW, this.vocabSize, H, x, logits);
      if (look && this.look.copy) {  // the copy head: a bias on each token the lookback names
        const C = this.look.copy, K = this.look.bars.length, bias = new Float64Array(K);
        for (let j = 0; j < K; j++) bias[j] = d[C.b + j];
        matvec(d, C.w, K, H, x, bias);
        const best = new Map();  // token -> the largest bias of the distances that name it
        for (let j = 0; j < K; j++) {
          const t = look.ids[j];
          if (t >= this.vocabSize) continue;
          const b = Math.fround(Math.fround(bias[j]) + Math.fround(C.scale * d[C.run + runClass(look.memory.run[j]) + 6 * j]));
          if (!best.has(t) || b > best.get(t)) best.set(t, b);
        }
        for (const [t, b] of best) logits[t] += b;
      }
      if (row) {  // back to absolute pitch: token v gets the frame's logit of its frame token
        const moved = new Float64Array(this.vocabSize);
        for (let v = 0; v < this.vocabSize; v++) moved[v] = logits[row[v]];
        return {logits: moved, state: next, keep};
      }
      return {logits, state: next, keep};
    }

    /** Logits after each token of `ids` (an array of token ids), from the zero state; `plan`: the
     * planned bar lines of a model with form inputs (left out: no plan). */
    logitsOf(ids, plan) {
      let state = this.initState(plan);
      const out = [];
      for (const t of ids) {
        const r = this.step(t, state);
        state = r.state;
        out.push(Array.from(r.logits));
      }
      return out;
    }

    /** The lookback ids (one array of K per token; V = none) the model reads after each token of
     * `ids`, from the start of a tune (musicgate.nn.lookback.reference_lookback). */
    lookbackIdsOf(ids) {
      if (!this.look) throw new Error(`model ${this.name} has no lookback inputs`);
      let memory = this.initState().look;
      const out = [];
      for (const t of ids) {
        const r = this.lookbackAfter(t, memory);
        memory = r.memory;
        out.push(Array.from(r.ids));
      }
      return out;
    }
  }

  /** Models registered by the page's model files: {name: Model}, and {name: message} for failures. */
  function loadModels(names, folder) {
    const reg = root.MUSICGATE_MODELS || {};
    const models = {}, errors = {};
    for (const name of names) {
      const file = `${folder || "live"}/model-${name}.js`;
      if (!(name in reg)) {
        errors[name] = `${file} is missing or could not be parsed`;
        continue;
      }
      try { models[name] = new Model(reg[name], file); } catch (err) { errors[name] = err.message; }
    }
    return {models, errors};
  }

  live.Model = Model;
  live.loadModels = loadModels;
  live.base64Floats = base64Floats;
})(typeof window !== "undefined" ? window : globalThis);
