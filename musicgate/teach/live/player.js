/* musicgate live page: the "Make a new tune" panel.
 *
 * Pick a model, a key, a temperature and a seed; Generate samples a tune (grammar.js) with the model
 * (model.js), draws it as a piano roll with its bar lines, plays it through Web Audio with the
 * instrument notes of live/sounds.js (pitch-shifted with playbackRate from the nearest rendered
 * note), and draws, note by note as it plays, the memory of a few units of the model's last layer:
 * the LSTM's forget gate, the GRU's update gate (1 = keep the old memory), the RNN's hidden state.
 * Under the caption, "ABC notation" opens the drawn tune's ABC (abc.js, as musicgate generate --abc writes it).
 *
 * A model with form inputs also gets a "Bars" menu: the bar lines the tune is planned to have, which
 * the model reads as the bars so far and the bars left (as musicgate generate --bars). When its file
 * has the training tunes' bar-line counts, the menu starts on "as in the corpus": each seed draws its
 * plan from them, as musicgate generate does without --bars.
 *
 * Public API (window.MusicgateLive): generate({model, key, temperature, minP, maxRun, maxLoop, seed, maxNotes, bars, meter, dance}) -> tune
 * (bars: a whole number or "corpus"; meter: a time signature such as "6/8", left out: the model draws one; dance:
 * "jig", its meter and, for "corpus", bar plans from the corpus's jigs; throws a clear Error for an unknown model,
 * key, time signature or dance, or a temperature <= 0); play(tune) -> the
 * scheduled notes (from the first note: a pickup's silence is not played); stop() stops it (as the Stop button);
 * state() -> {ready, audio, playing, messages, schedule, models}; level() -> the RMS of
 * what is playing now; summary(tune) -> the tune's info line; modeNote(model, key) -> the line for a mode the model
 * rarely saw ("" otherwise); maxNotesFor(model, bars) -> the panel's cut;
 * panelOptions(model name, key, temperature, seed, bars menu value, meter menu value) -> what the panel asks
 * generate for; meterNote(model, key, meter) -> the line for a meter the model rarely starts a tune in ("" otherwise).
 */
(function (root) {
  "use strict";
  const live = root.MusicgateLive = root.MusicgateLive || {};
  const SECONDS_PER_BEAT = 0.5;  // 120 quarter notes a minute, as the gallery's recordings
  const MAX_NOTES = live.MAX_NOTES = 128;  // the panel's tunes end where the model ends them, or are cut here
  const BAR_CHOICES = live.BAR_CHOICES = [8, 12, 16, 24, 32];  // the Bars menu (models with form inputs)
  const AS_THE_MODEL = "as the model draws";  // the Meter menu's default: the model picks the METER token
  // the Meter menu: dances (in the meter the corpus writes them in, with bar plans drawn from its tunes of that
  // dance: musicgate.music.meters.DANCES and DANCE_PLANS, from the model's file), then the corpus's time signatures
  const DANCE_CHOICES = live.DANCE_CHOICES = ["reel", "hornpipe", "jig", "slip jig", "strathspey", "polka", "waltz", "slide"];
  const METER_CHOICES = live.METER_CHOICES = ["2/4", "3/4", "4/4", "2/2", "6/8", "9/8", "12/8", "3/8", "3/2", "6/4"];
  const DANCE = "dance:";  // the Meter menu's value for a dance: "dance:jig"
  const AS_IN_CORPUS = "as in the corpus";  // the Bars menu's first entry, for models with barLines
  const NOTES_PER_BAR = 8;  // a long plan raises the cut to this many notes a bar, so 32 bars are not cut short
  const IN_KEY = "#0072b2", OUT_KEY = "#e69f00", BAR = "#999";  // Okabe-Ito: colour-blind safe
  const GATE_TEXT = {  // what the gate view shows: its name, what its values mean, what its shades mean
    lstm: ["forget gate f", "0 = erase the old memory, 1 = keep it",
           "dark (near 1): the unit keeps its memory, light (near 0): it erases it"],
    gru: ["update gate z", "0 = write the new note over the memory, 1 = keep the old memory",
          "dark (near 1): the unit keeps its old memory, light (near 0): it writes the new note over it"],
    rnn: ["hidden state h", "the RNN has no gate: its memory is this state, -1 to 1",
          "dark: near +1, light: near -1 (the RNN has no gate: this state is its memory)"],
  };
  const ui = {models: {}, messages: [], audio: null, buffers: null, tune: null, schedule: [], started: 0, frame: 0};

  function say(text, kind) {
    const box = document.getElementById("live-messages");
    ui.messages.push(text);
    if (!box) return;
    const p = document.createElement("p");
    p.className = kind === "info" ? "live-info" : "warn";
    p.textContent = text;
    box.appendChild(p);
  }

  function generate(opts) {
    const o = opts || {};
    const model = ui.models[o.model];
    if (!model) {
      throw new Error(`unknown model ${JSON.stringify(o.model)}: give one of ${Object.keys(ui.models).join(", ") || "(none loaded)"}`);
    }
    return live.sampleTune(model, {key: o.key, temperature: o.temperature, minP: o.minP, maxRun: o.maxRun, maxLoop: o.maxLoop,
                                   seed: o.seed === undefined ? 0 : o.seed,
                                   maxNotes: o.maxNotes === undefined ? 64 : o.maxNotes, minNotes: o.minNotes,
                                   bars: o.bars, meter: o.meter, dance: o.dance});
  }

  /** The panel's cut for a tune of `model` planned to `bars` bar lines: MAX_NOTES, more for a long plan. */
  function maxNotesFor(model, bars) {
    return model && model.form && Number.isInteger(bars) ? Math.max(MAX_NOTES, NOTES_PER_BAR * bars) : MAX_NOTES;
  }

  /** generate's options for the panel's settings; `menu` is the Bars menu's value ("corpus" or a number),
   * `meter` the Meter menu's ("6/8", "dance:jig" or "" for the model's draw). */
  function panelOptions(name, key, temperature, seed, menu, meter) {
    const m = ui.models[name];
    if (!m) throw new Error(`unknown model ${JSON.stringify(name)}: give one of ${Object.keys(ui.models).join(", ")}`);
    const bars = !m.form ? undefined : (menu === live.CORPUS ? menu : Number(menu));
    const dance = String(meter || "").startsWith(DANCE) ? meter.slice(DANCE.length) : undefined;
    // the cut follows the plan drawn for this seed, so a drawn plan gives the tune a given one does
    return {model: name, key, temperature, seed, bars, meter: dance ? undefined : (meter || undefined), dance,
            maxNotes: maxNotesFor(m, live.barPlan(m, bars, seed, dance).plannedBars)};
  }

  /** The line generate prints when `model` rarely saw the mode of `key` ("A dorian"), or "". */
  function modeNote(model, key) {
    const mode = String(key || "").split(" ").pop();
    return (model && model.modeNotes && model.modeNotes[mode]) || "";
  }

  /** The tune's bar lines as drawn: one per position ({beat, kinds}), so ":|" and "|2" at one place are one line. */
  function barPlaces(tune) {
    const lines = [];
    for (const b of tune.bars) {
      const last = lines[lines.length - 1];
      if (last && Math.abs(last.beat - b.beat) < 1e-9) last.kinds.push(b.kind);
      else lines.push({beat: b.beat, kinds: [b.kind]});
    }
    return lines;
  }

  /** One line about a tune: model, notes, key, meter, the bar plan (models with form inputs), settings. */
  function summary(tune) {
    const from = tune.planSource === "corpus" ? " (drawn from the corpus)"
      : tune.dance && tune.planSource === tune.dance ? ` (drawn from the corpus's ${tune.dance}s)` : "";
    const stretched = tune.planRead > tune.plannedBars  // the sampler doubled the plan (grammar.js)
      ? `, stretched to ${tune.planRead} (the first part ran past half of it)` : "";
    const lines = barPlaces(tune), both = lines.find(l => l.kinds.length > 1);
    const places = lines.length === tune.barLines ? "" : ` (${lines.length} places` +
      (both ? `: two signs at one place, such as ${both.kinds.join(" ")}, count two)` : ")");
    const plan = tune.plannedBars === null || tune.plannedBars === undefined ? ""
      : `, ${tune.plannedBars} bars planned${from}${stretched}, ${tune.barLines} bar lines written${places}`;
    return `${tune.model}: ${tune.notes.length} notes in ${tune.key}, ${tune.dance ? `a ${tune.dance} in ` : ""}${tune.meter || "4/4"}${plan} ` +
           `(temperature ${tune.temperature}, seed ${tune.seed})`;
  }

  // -- sound ----------------------------------------------------------------------------------
  function audioContext() {
    const Ctx = root.AudioContext || root.webkitAudioContext;
    if (!Ctx) return null;
    if (!ui.audio) ui.audio = new Ctx();
    return ui.audio;
  }

  async function loadSounds(ctx) {
    if (ui.buffers) return ui.buffers;
    const s = root.MUSICGATE_SOUNDS;
    if (!s || !s.notes) throw new Error("live/sounds.js is missing or unreadable: the tune is drawn but cannot be played");
    const out = [];
    for (const [pitch, b64] of Object.entries(s.notes)) {
      const bin = atob(b64), bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      out.push({pitch: Number(pitch), buffer: await ctx.decodeAudioData(bytes.buffer)});
    }
    ui.buffers = out.sort((a, b) => a.pitch - b.pitch);
    return ui.buffers;
  }

  /** Whether a tune is playing; the Stop button is enabled only then. */
  function playing(on) {
    ui.playing = on;
    const button = document.getElementById("live-stop");
    if (button) button.disabled = !on;
  }

  function stop() {
    for (const n of ui.nodes || []) { try { n.stop(); } catch (e) { /* already stopped */ } }
    ui.nodes = [];
    cancelAnimationFrame(ui.frame);
    playing(false);
  }

  /** Schedule every note of `tune` on the audio graph; returns the schedule (seconds from its first note: the
   * silence before a pickup is not played, so the sound starts at once). */
  async function play(tune) {
    stop();
    const ctx = audioContext();
    if (!ctx) throw new Error("this browser has no Web Audio: the tune is drawn but cannot be played here");
    if (ctx.state === "suspended") await ctx.resume();
    const buffers = await loadSounds(ctx);
    const t0 = ctx.currentTime + 0.15, out = ctx.createGain();
    out.gain.value = 0.5;
    ui.analyser = ctx.createAnalyser();
    out.connect(ui.analyser).connect(ctx.destination);
    ui.nodes = [];
    ui.spans = [];  // [written start, written stop, beat it is played at]
    let at = 0;
    const played = [];
    const end = Math.max(tune.end, tune.bars.length ? tune.bars[tune.bars.length - 1].beat : 0);
    const lines = tune.bars.map(x => x.beat).filter(b => b > 0);  // as Notes.played(): a repeat to the start
    const first = tune.notes.length ? Math.min(...tune.notes.map(n => n.onset)) : 0;  // goes to the pickup
    const begin = lines.length && first > 0 && first < lines[0] ? first : 0;
    for (const [a, c] of live.formSpans(tune.bars, end, begin)) {
      for (const n of tune.notes) if (n.onset >= a && n.onset < c) played.push({n, beat: n.onset - a + at});
      ui.spans.push([a, c, at]);
      at += c - a;
    }
    played.sort((x, y) => x.beat - y.beat || x.n.pitch - y.n.pitch);
    const lead = played.length ? played[0].beat : 0;  // beats of silence before the first note: left out
    ui.spans = ui.spans.map(([a, c, s]) => [a, c, s - lead]);
    ui.length = at - lead; ui.reached = 0;
    ui.schedule = played.map(({n, beat}) => {
      const near = buffers.reduce((a, b) => Math.abs(b.pitch - n.pitch) < Math.abs(a.pitch - n.pitch) ? b : a);
      const when = (beat - lead) * SECONDS_PER_BEAT, len = n.duration * SECONDS_PER_BEAT;
      const src = ctx.createBufferSource(), env = ctx.createGain();
      src.buffer = near.buffer;
      src.playbackRate.value = Math.pow(2, (n.pitch - near.pitch) / 12);
      env.gain.setValueAtTime(1, t0 + when);
      env.gain.setTargetAtTime(0, t0 + when + len, 0.05);
      src.connect(env).connect(out);
      src.start(t0 + when);
      src.stop(t0 + when + len + 0.4);
      ui.nodes.push(src);
      return {pitch: n.pitch, sample: near.pitch, rate: src.playbackRate.value, when, duration: len, beat: n.onset};
    });
    ui.started = t0;
    playing(true);
    return ui.schedule;
  }

  // -- drawing --------------------------------------------------------------------------------
  /** Size `canvas` to its parent's content width (the padding left out) and `height` CSS pixels, sharp on any screen. */
  function sizeCanvas(canvas, height) {
    const box = canvas.parentElement, css = getComputedStyle(box);
    const inner = box.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
    const w = inner > 0 ? Math.floor(inner) : 900, r = root.devicePixelRatio || 1;
    canvas.width = Math.round(w * r); canvas.height = Math.round(height * r);
    canvas.style.width = `${w}px`; canvas.style.height = `${height}px`;
    const g = canvas.getContext("2d");
    g.setTransform(r, 0, 0, r, 0, 0);
    return {g, w, h: height};
  }

  const RIGHT = 16;
  const leftOf = w => (w < 600 ? 56 : 90);  // room for the axis labels: less on a phone
  const SHARPS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  const FLATS = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"];

  /** Write `s` from x (to x with align "right") at baseline y, moved in where it would run past an edge of the canvas. */
  function label(g, s, x, y, w, align) {
    const width = g.measureText(s).width;
    g.fillText(s, Math.max(1, Math.min(align === "right" ? x - width : x, w - 1 - width)), y);
  }

  /**
   * x of a beat on the note axis, as the page's pictures: one column per note, so every note is
   * as wide as every other. A beat inside note i (or the rest after it) lies in column i.
   */
  function xOf(beat, w, tune) {
    const ns = tune.notes, n = ns.length, left = leftOf(w);
    if (!n) return left;
    let lo = 0, hi = n - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ns[mid].onset <= beat) lo = mid; else hi = mid - 1; }
    const i = lo, next = i + 1 < n ? ns[i + 1].onset : Math.max(tune.end, ns[i].onset + ns[i].duration);
    const col = beat < ns[0].onset ? 0 : i + Math.min((beat - ns[i].onset) / Math.max(next - ns[i].onset, 1e-9), 1);
    return left + (w - left - RIGHT) * col / n;
  }

  /** Write `texts` ([x, text], left to right) on one line at baseline y, inside the canvas and `gap` px apart at least:
   * a text too near the one before is left out, except the last, for which those before it make room. */
  function row(g, texts, y, w, gap) {
    const kept = [], last = () => kept[kept.length - 1];
    texts.forEach(([x, s], i) => {
      const width = g.measureText(s).width, x0 = Math.max(1, Math.min(x, w - 1 - width));
      if (i === texts.length - 1) while (kept.length && last().end + gap > x0) kept.pop();
      if (!kept.length || last().end + gap <= x0) kept.push({s, x0, end: x0 + width});
    });
    for (const k of kept) g.fillText(k.s, k.x0, y);
  }

  function drawBars(g, tune, w, top, bottom, marks) {
    g.strokeStyle = BAR; g.fillStyle = "#555"; g.lineWidth = 1; g.font = "11px sans-serif";
    const signs = [], numbers = [];
    barPlaces(tune).forEach((b, i) => {  // ":|" and "|:" at one bar line are one line
      const x = Math.round(xOf(b.beat, w, tune)) + 0.5;
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, bottom); g.stroke();
      const kinds = b.kinds.filter(k => k !== "|").join(" ");
      if (marks && kinds) signs.push([x + 2, kinds]);  // repeat signs and endings: on the roll only
      numbers.push([x - 3, String(i + 1)]);
    });
    row(g, signs, top + 10, w, 3);
    row(g, numbers, bottom + 12, w, 10);  // the last bar's number always
    g.fillStyle = "#333";
    label(g, "bar", leftOf(w) - 8, bottom + 12, w, "right");
  }

  function drawRoll(tune, upTo, head) {
    const {g, w, h} = sizeCanvas(document.getElementById("live-roll"), 220);
    const top = 8, bottom = h - 24, left = leftOf(w);
    g.clearRect(0, 0, w, h);
    const ps = tune.notes.map(n => n.pitch);
    const lo = Math.min(...ps) - 2, hi = Math.max(...ps) + 2;
    const y = p => bottom - (bottom - top) * (p - lo) / (hi - lo);
    const pcs = new Set(tune.pitchClasses || []);
    const names = pcs.has(10) && !pcs.has(11) ? FLATS : SHARPS;  // a key with Bb and no B is written with flats
    g.fillStyle = "#333"; g.font = "11px sans-serif";
    const cs = [];  // every C (with a faint line), then the lowest and the highest note, labelled where there is room
    for (let p = Math.ceil(lo); p <= hi; p++) {
      if (p % 12 !== 0) continue;
      g.strokeStyle = "#eee"; g.beginPath(); g.moveTo(left, y(p)); g.lineTo(w - RIGHT, y(p)); g.stroke();
      cs.push(p);
    }
    const taken = [bottom + 12];  // label baselines in use: first the "bar" under the axis
    for (const p of [...cs, lo + 2, hi - 2]) {
      if (taken.some(b => Math.abs(b - y(p) - 4) < 12)) continue;
      taken.push(y(p) + 4);
      label(g, `${names[p % 12]}${Math.floor(p / 12) - 1}`, left - 6, y(p) + 4, w, "right");
    }
    g.save(); g.translate(14, (top + bottom) / 2); g.rotate(-Math.PI / 2); g.fillText("pitch", -12, 0); g.restore();
    drawBars(g, tune, w, top, bottom, true);
    const rowH = Math.max(3, (bottom - top) / (hi - lo) - 1);
    for (const n of tune.notes) {
      g.globalAlpha = n.onset <= upTo ? 1 : 0.25;
      g.fillStyle = pcs.has(n.pitch % 12) ? IN_KEY : OUT_KEY;
      const x0 = xOf(n.onset, w, tune), x1 = xOf(n.onset + n.duration, w, tune);
      g.fillRect(x0, y(n.pitch) - rowH / 2, Math.max(x1 - x0 - 1, 1), rowH);
    }
    g.globalAlpha = 1;
    if (head < tune.end) playhead(g, xOf(head, w, tune), top, bottom);
  }

  function playhead(g, x, top, bottom) {
    g.strokeStyle = "#000"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(x, top); g.lineTo(x, bottom); g.stroke();
  }

  function gateColour(v, cell) {
    // sequential light-yellow -> dark blue for gates in [0, 1]; for the RNN's h in [-1, 1] the same scale
    const t = cell === "rnn" ? (v + 1) / 2 : v;
    const a = [255, 247, 188], b = [8, 48, 107];
    const c = a.map((x, i) => Math.round(x + (b[i] - x) * Math.min(Math.max(t, 0), 1)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function drawGates(tune, upTo, head) {
    const rows = tune.units.length, rowH = 22;
    const {g, w, h} = sizeCanvas(document.getElementById("live-gates"), rows * rowH + 34);
    const top = 4, bottom = top + rows * rowH, left = leftOf(w);
    g.clearRect(0, 0, w, h);
    tune.units.forEach((u, r) => {
      g.fillStyle = "#333"; g.font = "11px sans-serif";
      label(g, `unit ${u}`, left - 6, top + r * rowH + rowH * 0.7, w, "right");
      tune.notes.forEach((n, i) => {  // one column per note: the gate averaged over the note's tokens
        if (n.onset > upTo || !tune.noteKeep[i]) return;
        const stop = i + 1 < tune.notes.length ? tune.notes[i + 1].onset : tune.end;
        const x0 = xOf(n.onset, w, tune), x1 = xOf(Math.min(stop, upTo), w, tune);
        g.fillStyle = gateColour(tune.noteKeep[i][r], tune.cell);
        g.fillRect(x0, top + r * rowH + 1, Math.max(x1 - x0, 1), rowH - 2);
      });
    });
    drawBars(g, tune, w, top, bottom, false);
    const note = "one column per note";
    label(g, note, left + (w - left - RIGHT - g.measureText(note).width) / 2, h - 3, w);
    if (head < tune.end) playhead(g, xOf(head, w, tune), top, bottom);
  }

  /** Draw the tune and the gates up to beat `upTo`, with the playhead at `head` (default: upTo). */
  function draw(tune, upTo, head) {
    const at = head === undefined ? upTo : head;
    drawRoll(tune, upTo, at); drawGates(tune, upTo, at);
  }

  /** A small square of `colour` (`width` wide) and `text`, kept on one line: an entry of a colour key. */
  function keyEntry(colour, text, width) {
    const entry = document.createElement("span"), square = document.createElement("span");
    entry.style.cssText = "white-space:nowrap;margin-right:1em";
    square.style.cssText = `display:inline-block;width:${width || ".8em"};height:.8em;margin-right:.3em;` +
      `vertical-align:-.05em;background:${colour}`;
    entry.append(square, text);
    return entry;
  }

  /** The words beside the pictures, once per tune: the summary line (the roll's label) and the gate view's title and label. */
  function describe(tune) {
    const line = summary(tune), [name, meaning, shades] = GATE_TEXT[tune.cell], rows = tune.units.length;
    document.getElementById("live-summary").textContent = line;
    document.getElementById("live-roll").setAttribute("aria-label", line);
    document.getElementById("live-gates").setAttribute("aria-label", `The ${name} of ${rows} units of ${tune.model}'s ` +
      `last layer (units ${tune.units.join(", ")}) note by note, one row per unit and one column per note: ${shades}.`);
    const title = document.getElementById("live-gates-title"), scale = keyEntry(
      `linear-gradient(to right, ${gateColour(tune.cell === "rnn" ? -1 : 0, tune.cell)}, ${gateColour(1, tune.cell)})`,
      tune.cell === "rnn" ? "1" : "1 keep", "8em");
    scale.prepend(tune.cell === "rnn" ? "-1 " : "0 erase ");
    title.textContent = `The ${name} of the ${rows} units that best tell the key: ${meaning}. `;
    title.appendChild(scale);
  }

  function animate() {
    const tune = ui.tune;
    if (!tune || !ui.audio) return;
    const played = (ui.audio.currentTime - ui.started) / SECONDS_PER_BEAT;  // beats since the first note
    const span = ui.spans.find(([a, c, at]) => played < at + c - a) || ui.spans[ui.spans.length - 1];
    const beat = Math.min(Math.max(span[0] + played - span[2], 0), tune.end);  // where in the written tune
    ui.reached = Math.max(ui.reached, beat);
    draw(tune, ui.reached, beat);
    if (played < ui.length) ui.frame = requestAnimationFrame(animate);
    else { draw(tune, tune.end); playing(false); }
  }

  // -- the panel ------------------------------------------------------------------------------
  function control(label, el) {
    const l = document.createElement("label");
    l.textContent = `${label} `;
    l.appendChild(el);
    return l;
  }

  function build(panel, names) {
    panel.innerHTML = "";
    const form = document.createElement("div");
    form.className = "live-controls";
    const model = document.createElement("select");
    model.id = "live-model";
    for (const n of names) model.add(new Option(`${ui.models[n].label} (${ui.models[n].cell.toUpperCase()})`, n));
    const key = document.createElement("select");
    key.id = "live-key";
    const bars = document.createElement("select");
    bars.id = "live-bars";
    const meter = document.createElement("select");
    meter.id = "live-meter";
    meter.add(new Option(AS_THE_MODEL, ""));
    const danceGroup = document.createElement("optgroup"), meterGroup = document.createElement("optgroup");
    danceGroup.label = "dances"; meterGroup.label = "time signatures";
    const anyDances = Object.assign({}, ...names.map(n => ui.models[n].dances || {}));
    for (const d of DANCE_CHOICES.filter(d => anyDances[d])) danceGroup.appendChild(new Option(`${d} (${anyDances[d].meter})`, DANCE + d));
    for (const name of METER_CHOICES) meterGroup.appendChild(new Option(name, name));
    meter.append(danceGroup, meterGroup);
    const temp = document.createElement("input");
    Object.assign(temp, {id: "live-temperature", type: "range", min: "0.2", max: "2", step: "0.1", value: "1"});  // musicgate generate's default (with min-p 0.05)
    const tempOut = document.createElement("output");  // in the Temperature label, beside its slider
    tempOut.textContent = "1.0"; tempOut.htmlFor = temp.id;
    temp.addEventListener("input", () => { tempOut.textContent = Number(temp.value).toFixed(1); });
    const seed = document.createElement("input");
    Object.assign(seed, {id: "live-seed", type: "number", min: "0", max: "999999", step: "1", value: "0"});
    const go = document.createElement("button");
    Object.assign(go, {id: "live-generate", type: "button", textContent: "Generate"});
    const next = document.createElement("button");
    Object.assign(next, {id: "live-next", type: "button", textContent: "Next seed"});
    const again = document.createElement("button");
    Object.assign(again, {id: "live-play", type: "button", textContent: "Play again", disabled: true});
    const halt = document.createElement("button");  // enabled while a tune plays (see playing())
    Object.assign(halt, {id: "live-stop", type: "button", textContent: "Stop", disabled: true});
    const fillKeys = () => {
      const m = ui.models[model.value], was = key.value || "D major";
      key.innerHTML = "";
      const modes = {};
      for (const k of Object.keys(m.keys)) (modes[k.split(" ")[1]] = modes[k.split(" ")[1]] || []).push(k);
      for (const [mode, ks] of Object.entries(modes)) {
        const group = document.createElement("optgroup");
        group.label = mode;
        for (const k of ks) group.appendChild(new Option(k, k));
        key.appendChild(group);
      }
      key.value = Object.keys(m.keys).includes(was) ? was : Object.keys(m.keys)[0];
    };
    const barsControl = control("Bars", bars);
    barsControl.title = "The bar lines the model plans the tune to have (it reads the bars so far and the bars left)";
    let picked = null;  // the Bars entry the reader chose, kept across models that have it
    bars.addEventListener("change", () => { picked = bars.value; });
    const showBars = () => {  // "as in the corpus" first, and the default, for a model with the training tunes' counts
      const m = ui.models[model.value];
      barsControl.hidden = !m.form;
      bars.innerHTML = "";
      if (m.barLines) bars.add(new Option(AS_IN_CORPUS, live.CORPUS));
      for (const n of BAR_CHOICES) bars.add(new Option(String(n), String(n)));
      const values = [...bars.options].map(o => o.value);
      bars.value = values.includes(picked) ? picked : (m.barLines ? live.CORPUS : String(live.DEFAULT_BARS));
    };
    model.addEventListener("change", () => { fillKeys(); showBars(); });
    fillKeys();
    showBars();
    const buttons = document.createElement("span");  // the buttons wrap to a new line together (on a phone, in two)
    buttons.className = "live-buttons";
    buttons.style.flexWrap = "wrap";
    buttons.append(go, next, again, halt);
    const tempControl = control("Temperature", temp);
    tempControl.appendChild(tempOut);
    const meterControl = control("Meter", meter);
    meterControl.title = "A dance, or the time signature of the tune (as the model draws: it picks one, as its training tunes do)";
    form.append(control("Model", model), control("Key", key), meterControl, barsControl, tempControl,
                control("Seed", seed), buttons);
    const help = document.createElement("p");
    help.className = "live-info";
    help.textContent = "Temperature: below 1 the model plays it safe, above 1 it takes more chances. " +
      "The same model, key, meter, temperature and seed always give the same tune. Meter: a dance (in the time " +
      "signature the corpus writes it in, and as long as its tunes of that dance are) or a time signature " +
      `(${AS_THE_MODEL}: it picks one per tune, as its training tunes come).` +
      (names.some(n => ui.models[n].form) ? " Bars: how many bar lines the model is told the tune will have" +
        (names.some(n => ui.models[n].barLines) ? ` (${AS_IN_CORPUS}: drawn for each seed from how many its ` +
          "training tunes in the tune's meter have, so tunes come in the corpus's mix of lengths and forms)." : ".") : "");
    const roll = document.createElement("canvas"), gates = document.createElement("canvas");
    roll.id = "live-roll"; gates.id = "live-gates";
    roll.setAttribute("role", "img"); gates.setAttribute("role", "img");
    const line = document.createElement("p"), legend = document.createElement("p"), gatesTitle = document.createElement("p");
    line.id = "live-summary"; legend.id = "live-legend"; gatesTitle.id = "live-gates-title";  // filled by describe()
    line.className = legend.className = gatesTitle.className = "live-info";
    legend.append(keyEntry(IN_KEY, "in the key signature"), keyEntry(OUT_KEY, "outside it"), keyEntry(BAR, "bar lines", "2px"));
    const caption = document.createElement("p");
    caption.className = "live-info";
    caption.id = "live-caption";
    caption.textContent = "Press Generate. Blue notes are in the key signature, orange ones outside it.";
    const abc = document.createElement("details"), abcSummary = document.createElement("summary");
    const abcText = document.createElement("pre");
    abc.id = "live-abc"; abcText.id = "live-abc-text";
    abcText.style.overflowX = "auto";  // its lines as written: on a phone the box scrolls, not the page
    abcSummary.textContent = "ABC notation";
    const save = document.createElement("a");  // the same text as a file (a data: address works from file://)
    Object.assign(save, {id: "live-abc-save", textContent: "Save as .abc"});
    abc.append(abcSummary, save, abcText);
    abc.hidden = !live.toAbc;  // live/abc.js missing: no box
    const showAbc = t => {  // the drawn tune as musicgate generate --abc writes it
      if (!live.toAbc) return;
      try {
        abcText.textContent = live.toAbc(t, {title: `${t.model} in ${t.key}, seed ${t.seed}`, rhythm: t.dance || ""});
        save.href = "data:text/vnd.abc;charset=utf-8," + encodeURIComponent(abcText.textContent);
        save.download = `${t.model}_${t.key.replace(/ /g, "-")}_${t.seed}.abc`;  // as generate names its files
      } catch (err) { abcText.textContent = ""; save.removeAttribute("href"); say(err.message); }
    };
    panel.append(form, help, line, legend, roll, gatesTitle, gates, caption, abc);
    const messages = document.createElement("div");
    messages.id = "live-messages";
    panel.appendChild(messages);
    const ask = s => panelOptions(model.value, key.value, Number(temp.value), s, bars.value, meter.value);
    const seedValue = () => Math.min(999999, Math.max(0, Math.floor(Number(seed.value) || 0)));  // as the box's min, max
    const run = async () => {
      const s = seedValue();
      seed.value = String(s);  // the seed used, shown
      let tune;
      try {
        tune = generate(ask(s));
      } catch (err) { say(err.message); return; }
      tune.pitchClasses = ui.models[model.value].keys[tune.key] || [];
      ui.tune = tune;
      again.disabled = false;
      describe(tune);
      draw(tune, tune.end);
      showAbc(tune);
      const notes = [modeNote(ui.models[model.value], tune.key),
                     live.meterNote(ui.models[model.value], tune.key, tune.meterSource === "given" ? tune.meter : "")].filter(Boolean);
      caption.textContent = notes.map(n => `Note: ${n}. `).join("") + (tune.cell === "rnn"
        ? "The RNN has no gate: each note rewrites its state (dark = +1, light = -1). A unit that keeps one colour " +
          "holds something, such as the key, through the tune; one that flickers follows the notes."
        : `Dark: the unit keeps its memory through that note (${GATE_TEXT[tune.cell][0]} near 1); light: it erases ` +
          "it and writes the new note. A unit that stays dark holds what it knows, such as the key, through the tune.");
      await start(tune);
    };
    go.addEventListener("click", run);
    try {  // a first tune, drawn (not played: browsers play sound only after a click)
      const first = generate(ask(0));
      first.pitchClasses = ui.models[model.value].keys[first.key] || [];
      ui.tune = first;
      again.disabled = false;
      describe(first);
      draw(first, first.end);
      showAbc(first);
      caption.textContent = "A first tune, made when the page opened. Press Generate (or Play again) to hear one.";
    } catch (err) { say(err.message); }
    next.addEventListener("click", () => { seed.value = String(seedValue() + 1); run(); });
    again.addEventListener("click", () => { if (ui.tune) start(ui.tune); });
    halt.addEventListener("click", () => { stop(); if (ui.tune) draw(ui.tune, ui.tune.end); });
    root.addEventListener("resize", () => {  // the pictures follow the page's width (while playing, each frame does)
      if (ui.tune && !ui.playing) draw(ui.tune, ui.tune.end);
    });
  }

  async function start(tune) {
    if (!audioContext() || !root.MUSICGATE_SOUNDS) { draw(tune, tune.end); return; }
    try {
      await play(tune);
      draw(tune, 0, 0);
      ui.frame = requestAnimationFrame(animate);
    } catch (err) {
      if (!ui.messages.includes(err.message)) say(err.message);
      draw(tune, tune.end);
    }
  }

  function init() {
    const section = document.getElementById("live");
    const panel = document.getElementById("live-panel");
    if (!section || !panel) return;
    let names = [];
    try { names = JSON.parse(section.dataset.models || "[]"); } catch (e) { names = []; }
    const folder = section.dataset.folder || "live";
    if (!live.loadModels || !live.sampleTune) {
      panel.innerHTML = "";
      const p = document.createElement("p");
      p.className = "warn";
      p.textContent = `The live generator could not start: ${folder}/model.js or ${folder}/grammar.js is missing or broken; ` +
        "build the page again with musicgate gallery.";
      panel.appendChild(p);
      return;
    }
    const {models, errors} = live.loadModels(names, folder);
    ui.models = models;
    const ok = names.filter(n => n in models);
    const problems = Object.values(errors).map(e => `${e}; build the page again with musicgate gallery.`);
    if (!ok.length) {
      panel.innerHTML = "";
      const p = document.createElement("p");
      p.className = "warn"; p.id = "live-message";
      p.textContent = `No model could be loaded, so no new tunes here. ${problems.join(" ")}`;
      panel.appendChild(p);
      return;
    }
    build(panel, ok);
    problems.forEach(m => say(m));
    if (!(root.AudioContext || root.webkitAudioContext)) {
      say("This browser has no Web Audio: new tunes are drawn but cannot be played here (try a current Chrome, Firefox or Safari).");
    }
    if (!root.MUSICGATE_SOUNDS) say(`${folder}/sounds.js is missing or unreadable: new tunes are drawn but cannot be played.`);
    ui.ready = true;
  }

  /** Root-mean-square level of what the page is playing now (0 when silent or not playing). */
  function level() {
    if (!ui.analyser) return 0;
    const a = new Float32Array(ui.analyser.fftSize);
    ui.analyser.getFloatTimeDomainData(a);
    return Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
  }

  live.generate = generate;
  live.maxNotesFor = maxNotesFor;
  live.panelOptions = panelOptions;
  live.summary = summary;
  live.modeNote = modeNote;
  live.level = level;
  live.play = play;
  live.stop = stop;
  live.state = () => ({ready: !!ui.ready, audio: ui.audio ? ui.audio.state : null, playing: !!ui.playing, messages: ui.messages.slice(),
                       schedule: ui.schedule.slice(), models: Object.keys(ui.models)});
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})(window);
