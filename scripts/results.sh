#!/usr/bin/env bash
# Rerun every table the README and its docs pages quote from benchmarks/results/, one after another on one CPU thread:
#   retention      experiment retention --config configs/retention.yaml -> retention/
#   retention-long the medley fine-tunes (configs/folk-*-medley.yaml, trained if absent) and
#                  experiment retention --config configs/retention-long.yaml -> retention-long/,
#                  and again with generate's sampler (--set min_p=0.05) -> retention-long-minp/
#   retention-noise the medley runs' second phase, clean (configs/folk-*-medley2.yaml) and with noisy
#                  inputs (folk-*-medley-noise.yaml), trained if absent; experiment retention --config
#                  configs/retention-noise.yaml -> retention-noise/; benchmarks/state_key.py -> state-key.md;
#                  GRU and LSTM with noise 0.2 (800 and 1,600 steps) -> retention-noise20{,-1600}-{gru,lstm}/,
#                  and benchmarks/key_confusion.py on the 1,600-step runs -> key-confusion.md
#   retention-self the medley runs' second phase reading their own pitches (configs/folk-*-medley-self.yaml,
#                  trained if absent) beside the noisy-input runs: configs/retention-self.yaml -> retention-self/;
#                  the noisy-input runs played as sets (configs/retention-sets.yaml) -> retention-sets/, and the
#                  same with drifting phrases (configs/folk-*-medley-drift.yaml, configs/retention-drift.yaml)
#                  -> retention-drift/
#   retention-scratch the five cells (rnn, lstm, gru, mingru, minlstm) trained from scratch on medleys at 200k
#                  parameters for 1,000 steps (trained if absent), played as sets: configs/retention-scratch.yaml
#                  -> retention-scratch/; three cells (rnn, lstm, gru) at the shipped size (~800k) with noisy and
#                  drifting inputs from the first step (configs/folk-*-long-noise.yaml, trained if absent):
#                  configs/retention-scratch800.yaml -> retention-scratch800/; their second cycle of 1,600
#                  steps, the GRU without and every cell with the auxiliary key loss (configs/folk-*-long-noise-
#                  {more,keyloss}.yaml, trained if absent): configs/retention-keyloss.yaml -> retention-keyloss/,
#                  benchmarks/key_confusion.py on it -> key-confusion-keyloss.md, benchmarks/state_key.py on
#                  the GRUs and the LSTMs -> state-key-keyloss.md; the GRU and LSTM with the key loss weighted
#                  1.0 (configs/folk-*-long-noise-keyloss1.yaml): configs/retention-keyloss1.yaml ->
#                  retention-keyloss1/, key-confusion-keyloss1{,-modes}.md; four LSTMs with it at 1.0 from
#                  scratch, the modes of the training streams as in the corpus or equally often, and their
#                  second cycles (configs/folk-lstm-long-keyloss{,-equal,2,2-equal}.yaml):
#                  configs/retention-lstm-keyloss.yaml -> retention-lstm-keyloss/, key-confusion-lstm-keyloss.md (by mode); the GRU
#                  and the RNN trained as the equal-mode LSTM (configs/folk-{gru,rnn}-long-keyloss-equal.yaml):
#                  configs/retention-cells-equal.yaml -> retention-cells-equal/; seeds 1 and 2 of the three
#                  (--set train.seed=N): configs/retention-cells-equal-seeds.yaml -> retention-cells-equal-seeds/,
#                  benchmarks/retention_seeds.py on both -> retention-cells-equal-seeds.{md,png}
#                  the minGRU and the minLSTM trained the same way for 1,300 steps (configs/folk-{mingru,minlstm}-
#                  long-keyloss-equal.yaml): configs/retention-mincells-equal.yaml -> retention-mincells-equal/, and
#                  their seed 1: configs/retention-mincells-equal-seeds.yaml -> retention-mincells-equal-seeds/,
#                  benchmarks/retention_seeds.py on both -> retention-mincells-equal-seeds.{md,png}; the two
#                  for the full 2,600 steps (configs/folk-{mingru,minlstm}-long-keyloss-equal-full.yaml):
#                  configs/retention-mincells-full.yaml -> retention-mincells-full/
#   probe          musicgate experiment probe (3 seeds)     -> probe/report.md, results.json, probe.png
#   probe, why     python benchmarks/probe_why.py           -> probe/why.md, why.json
#   memory tasks   musicgate bench memory --preset bai      -> memory-bai.{json,md,png},
#                                                              memory-bai-lstm-inits.*, memory-inits.*,
#                                                              memory-solve-*.*, memory-copy-T100-chrono.*
#   polyphonic     musicgate bench polyphonic (JSB, Nottingham) -> polyphonic-{jsb,nottingham}.json
#   speech         python benchmarks/speech_accuracy.py     -> speech-accuracy.md
#   keys, speed    python benchmarks/key_corpus.py (once)    -> datasets/keycache/ (music21's keys, cached)
#                  python benchmarks/key_accuracy.py         -> key-accuracy.md (profiles against labels and music21)
#                  python benchmarks/keys.py                 -> keys.md (key finding against music21, CPU time)
#                  python benchmarks/tokenizer.py            -> tokenizer.md (against MidiTok REMI and TSD)
#                  python benchmarks/generate.py             -> generate.md (batch 1 and 256, the shipped models)
#                  python benchmarks/demo.py                 -> demo.md (musicgate demo's wall time)
#   musicality     scripts/musicality.sh                    -> musicality/
#                  scripts/musicality.sh, 288 tunes each    -> musicality-288/ (the set to read)
#                  scripts/musicality.sh, 96 tunes each     -> musicality-96/
#                  phase 9 + self-feed 0.3 (trained here)   -> selffeed3/
#                  the same with other sampling settings    -> musicality-288-{maxrun4,t11,minp0,maxloop3,maxloop0}/
#                  python benchmarks/repeats.py             -> repeats.md (repeating the last pitch, teacher-forced)
#                  python benchmarks/sampling.py            -> sampling/ (18 sampling settings on other seeds)
#                  python benchmarks/static_bars.py         -> static-bars.md (where the 288-tune sets mark time)
#                  python benchmarks/lengths.py             -> lengths.md (their plans and lengths, meter by meter)
#                  python benchmarks/final_bars.py          -> final-bars.md (their final bars, teacher-forced)
#                  phase 9 + the weight on the last note only (trained here) -> note32/ (and its static-bars.md)
#                  python benchmarks/copy_weight.py         -> copy-weight/ (the copy head's weight at sampling)
#                  python benchmarks/ending_search.py       -> cadence/ending-search.md (the likeliest final bar)
#                  python benchmarks/register.py            -> register.md (where the tunes sit)
#                  python benchmarks/dances.py              -> dances.md (dances asked for by name)
#                  python benchmarks/modal_keys.py          -> modal-keys.md (real tunes' key measures, mode by mode)
#                  python benchmarks/key_keepers.py         -> key-keepers.md (the class page's key-keeper units)
#                  scripts/copy_calibration.sh              -> copy-calibrated/ (phase 7's copy head trained on clean
#                                                              or self-fed inputs; needs runs/folk-{lstm,gru}-tonic-copy)
#                  phase 8 with the cadence counted 32 times (configs/folk-{lstm,gru}-tonic-copy-cadence32.yaml,
#                  trained if absent), 288 tunes each beside phase 8 -> cadence32-frame/ (and endings.md)
# Then `pytest tests/test_readme_tables.py` says which tables of the README and docs/ pages no longer match.
#
#   bash scripts/results.sh            # everything: about 9 h on this 2-core CPU, shared
#   bash scripts/results.sh --quick    # every step with a tiny budget, into generated/results-quick/
#                                      # (checks the pipeline in about 10 minutes; numbers meaningless)
#   ONLY="probe memory" bash scripts/results.sh   # some steps only
#
# Single-thread times measured on this machine while shared with other jobs (from the results
# files): retention ~3 min; retention-long ~4 min and ~18 min with min-p (+ ~35 min to train the three 800-step medley runs,
# one after another); retention-noise ~8 min, the state probe ~15 min and the four noise-0.2 runs'
# retention ~20 min (+ ~60 min to train the six 800-step second-phase runs and ~75 min the four
# noise-0.2 runs); retention-self ~12 min, retention-sets ~12 min and its two runs at temperature 0.9
# ~8 min, retention-drift ~5 min (+ ~30 min to train the three self-feed runs and ~25 the two drift
# runs); retention-scratch ~12 min (+ ~45 min to train the five runs, one after another) and ~13 min more for the
# 800k runs (+ ~2 h 45 min to train the three, one after another: GRU ~73, LSTM ~56, RNN ~41 min),
# ~14 min for their key-loss retention, ~8 min for the weight-1.0 pair's and ~10 min for the state probe (+
# ~3 h 10 min to train the four second cycles, GRU ~50 and ~50, LSTM ~40, RNN ~50 min, measured two at once,
# and ~47 min the weight-1.0 GRU and LSTM, two at once), ~6 min for the four LSTMs from scratch (3 min on two
# threads; + ~27 min to train each from scratch and ~17 min each second cycle, measured two at once) and ~4
# min for the three cells trained the same way (+ ~37 min each to train the GRU and the RNN, two at once) and ~6 min
# for their seeds 1 and 2 (+ ~20-26 min each to train the six, two at once on a quiet CPU), ~8 min for the minGRU
# and the minLSTM, two runs each (+ ~24-28 min each to train the four, two at once) and ~5 min for the two
# for the full steps (+ ~70 min each, two at once); probe (5 cell/init rows x T=10,30,100,300,1000 x 3 seeds) ~14 min; probe_why
# ~3 min; memory-bai (3 cells x 2 tasks x 3 seeds, 200 steps at T=600/1000) ~37 min;
# memory-bai-lstm-inits ~6 min; memory-inits (1,500 steps at T=100) ~17 min; memory-solve (until
# solved, or the budget: GRU at T=600 ~30 min, LSTM and RNN ~30 min, T=1,000 ~40 + ~50 + ~40 min), copy at T=100 ~30 min (3 x 5,000 steps; measured beside two training runs); polyphonic ~33 min;
# speech ~22 min; musicality ~2 min (~4 for 288 tunes each, ~10 for the other sampling settings, ~1 for repeats.py, ~6 for sampling.py), the copy weight ~5 min and the copy calibration ~10 min (with its training) and the cadence in the frame ~8 min (+ ~15 min to train the two, two at once).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PY:-.venv/bin/python}
MG=${MG:-.venv/bin/musicgate}
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
if (( QUICK )); then OUT=${OUT:-generated/results-quick}; else OUT=${OUT:-benchmarks/results}; fi
ONLY=${ONLY:-"retention retention-long retention-noise retention-self retention-scratch probe memory polyphonic speech speed musicality"}
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
want() { [[ " $ONLY " == *" $1 "* ]]; }
train_run() {  # train_run RUN CONFIG [--set K=V ...]: train RUN from CONFIG if absent, else resume it
    local run=$1 config=$2
    shift 2
    if [ ! -f "$run/last.pt" ]; then "$MG" -q train "$config" "$@" -o "$run"
    else "$MG" -q train --resume "$run"; fi  # a finished run says so and stops
}
train_runs() {  # train_runs PHASE...: runs/folk-CELL-PHASE from configs/folk-CELL-PHASE.yaml, trained if absent
    for phase in "$@"; do
        for cell in rnn lstm gru; do
            run="runs/folk-$cell-$phase"
            start=$(sed -n 's/^  start_from: *\([^ #]*\).*/\1/p' "configs/folk-$cell-$phase.yaml")
            if [ ! -f "$run/last.pt" ] && [[ "$start" == runs/* ]] && [ ! -e "$start" ]; then
                echo "results.sh: $run starts from $start (configs/folk-$cell-$phase.yaml), which is not there;" \
                     "train the shipped models' phases first: bash scripts/train_shipped.sh" >&2
                exit 2
            fi
            train_run "$run" "configs/folk-$cell-$phase.yaml"
        done
    done
}
stamp() { echo "== $1 ($(date -u +%H:%M:%S))" >&2; }
run_retention() {  # run_retention CONFIG DIR [--set K=V ...]: one retention run, on one thread, into DIR
    local config=$1 dir=$2
    shift 2
    "$MG" -q experiment retention --config "$config" --threads 1 --set output="$dir" "$@" >/dev/null
}
quick_retention() {  # quick_retention CONFIG DIR: the pipeline of a retention config on the shipped GRU, short
    run_retention "$1" "$2" --set 'models={"gru": "folk-gru"}' --set n_per_key=1 --set length=128 --set ceiling_tunes=40 \
        --set positions=[64,128] --set n_boot=100
}
retention_study() {  # retention_study CONFIG DIR DEST RUN...: train runs/folk-RUN from configs/folk-RUN.yaml where
    local config=$1 dir=$2 dest=$3 run  # absent, the retention config into DIR, its report kept in DEST (quick: pipeline only)
    shift 3
    if (( QUICK )); then
        quick_retention "$config" "$dir"
    else
        for run in "$@"; do train_run "runs/folk-$run" "configs/folk-$run.yaml"; done
        run_retention "$config" "$dir"
    fi
    keep_report "$dir" "$dest"
}
seed_study() {  # seed_study NAME "SEED..." CELL...: train runs/folk-CELL-long-keyloss-equal-sSEED where absent,
    local name=$1 seeds=$2 cell seed  # configs/NAME-seeds.yaml into NAME-seeds/, pooled with NAME/ by retention_seeds.py
    shift 2
    if (( QUICK )); then
        quick_retention "configs/$name-seeds.yaml" "$TMP/$name-seeds"
        set --   # one quick run alone: pooled with NAME/ it would hold the same model twice, which is refused
    else
        for cell in "$@"; do
            for seed in $seeds; do
                train_run "runs/folk-$cell-long-keyloss-equal-s$seed" "configs/folk-$cell-long-keyloss-equal.yaml" \
                    --set train.seed="$seed"
            done
        done
        run_retention "configs/$name-seeds.yaml" "$TMP/$name-seeds"
        set -- "$OUT/$name"
    fi
    keep_report "$TMP/$name-seeds" "$OUT/$name-seeds"
    "$PY" benchmarks/retention_seeds.py "$@" "$OUT/$name-seeds" -o "$OUT/$name-seeds.md" --png "$OUT/$name-seeds.png" \
        >/dev/null
}
keep_report() {  # keep_report RUNDIR DEST [FILE...]: a retention run's report, curves and configs (the ~7 MB of raw samples stay out)
    local run=$1 dest=$2
    shift 2
    (( $# )) || set -- config.yaml drift.png models.json report.md retention-w16.png retention-w32.png summary.json
    mkdir -p "$dest"
    for f in "$@"; do cp "$run"/retention-*/"$f" "$dest/"; done
}

if want retention; then
    stamp retention
    if (( QUICK )); then
        run_retention configs/retention.yaml "$TMP/ret" --set n_per_key=1 --set length=128 \
            --set ceiling_tunes=40 --set positions=[64,128] --set n_boot=100
    else
        run_retention configs/retention.yaml "$TMP/ret"
    fi
    keep_report "$TMP/ret" "$OUT/retention"
fi

if want retention-long; then
    stamp retention-long
    if (( QUICK )); then  # the shipped models only, short
        quick_retention configs/retention-long.yaml "$TMP/retl"
    else
        train_runs medley
        run_retention configs/retention-long.yaml "$TMP/retl"
        run_retention configs/retention-long.yaml "$TMP/retm" \
            --set min_p=0.05
        keep_report "$TMP/retm" "$OUT/retention-long-minp"
    fi
    keep_report "$TMP/retl" "$OUT/retention-long"
fi

if want retention-noise; then
    stamp retention-noise
    if (( QUICK )); then  # the pipeline on the shipped GRU, short
        quick_retention configs/retention-noise.yaml "$TMP/retn"
    else
        train_runs medley medley2 medley-noise   # phase 2 starts from phase 1
        run_retention configs/retention-noise.yaml "$TMP/retn"
        "$PY" benchmarks/state_key.py -o "$OUT/state-key.md" >/dev/null
        for cell in gru lstm; do  # twice the noise, then twice the steps too (the README's two sentences)
            for variant in noise20:800 noise20-1600:1600; do
                name=${variant%%:*} steps=${variant##*:} run="runs/folk-$cell-medley-$name"
                train_run "$run" "configs/folk-$cell-medley-noise.yaml" --set train.input_noise=0.2 --set train.steps="$steps"
                run_retention configs/retention-noise.yaml "$TMP/ret-$name-$cell" \
                    --set "models={\"$cell-$name\": \"$run\"}"
                keep_report "$TMP/ret-$name-$cell" "$OUT/retention-$name-$cell" config.yaml models.json report.md \
                    retention-w32.png summary.json
            done
        done
        # where the windows go when their key is not the asked one (the 1,600-step runs)
        "$PY" benchmarks/key_confusion.py "$TMP"/ret-noise20-1600-gru/retention-* "$TMP"/ret-noise20-1600-lstm/retention-* \
            -o "$OUT/key-confusion.md" >/dev/null
    fi
    keep_report "$TMP/retn" "$OUT/retention-noise"
fi

if want retention-self; then
    stamp retention-self
    if (( QUICK )); then  # the pipeline on the shipped GRU, short
        quick_retention configs/retention-self.yaml "$TMP/rets"
        quick_retention configs/retention-sets.yaml "$TMP/retsets"
        quick_retention configs/retention-drift.yaml "$TMP/retd"
    else
        train_runs medley medley-noise medley-self   # both second phases start from phase 1
        for cell in gru lstm; do   # the retention-noise step's noise-0.2 runs of 1,600 steps, if absent
            train_run "runs/folk-$cell-medley-noise20-1600" "configs/folk-$cell-medley-noise.yaml" \
                --set train.input_noise=0.2 --set train.steps=1600
        done
        run_retention configs/retention-self.yaml "$TMP/rets"
        run_retention configs/retention-sets.yaml "$TMP/retsets"
        for cell in gru lstm; do   # the same recipe with drifting phrases
            train_run "runs/folk-$cell-medley-drift" "configs/folk-$cell-medley-drift.yaml"
        done
        run_retention configs/retention-drift.yaml "$TMP/retd"
        for cell in gru lstm; do   # 800 more steps with twice the noise (the README's sentence)
            run="runs/folk-$cell-medley-drift2"
            train_run "$run" "configs/folk-$cell-medley-drift.yaml" \
                --set model.start_from="runs/folk-$cell-medley-drift" --set train.input_noise=0.2
            run_retention configs/retention-drift.yaml "$TMP/retd2-$cell" --set "models={\"$cell-drift2\": \"$run\"}"
            keep_report "$TMP/retd2-$cell" "$OUT/retention-drift2-$cell" config.yaml models.json report.md \
                retention-w32.png summary.json
        done
        for cell in gru lstm; do   # the same sets at temperature 0.9 (the README's sentence)
            run_retention configs/retention-sets.yaml "$TMP/rett-$cell" \
                --set "models={\"$cell-noise20-1600-t09\": \"runs/folk-$cell-medley-noise20-1600\"}" --set temperature=0.9
            keep_report "$TMP/rett-$cell" "$OUT/retention-sets-t09-$cell" config.yaml models.json report.md \
                retention-w32.png summary.json
        done
    fi
    keep_report "$TMP/rets" "$OUT/retention-self"
    keep_report "$TMP/retsets" "$OUT/retention-sets"
    keep_report "$TMP/retd" "$OUT/retention-drift"
fi

if want retention-scratch; then
    stamp retention-scratch
    if (( QUICK )); then  # the pipeline on the shipped GRU, short
        quick_retention configs/retention-scratch.yaml "$TMP/retx"
    else
        for cell in rnn lstm gru mingru minlstm; do   # the five cells from scratch on medleys, 200k parameters
            train_run "runs/folk-$cell-long200k" "configs/folk-$cell-long.yaml" --set model.params=200000 \
                --set train.steps=1000
        done
        run_retention configs/retention-scratch.yaml "$TMP/retx"
    fi
    keep_report "$TMP/retx" "$OUT/retention-scratch"
    if (( QUICK )); then
        quick_retention configs/retention-scratch800.yaml "$TMP/retx8"
    else
        for cell in rnn lstm gru; do   # the shipped size from scratch, noisy and drifting inputs
            train_run "runs/folk-$cell-long-noise" "configs/folk-$cell-long-noise.yaml"
        done
        run_retention configs/retention-scratch800.yaml "$TMP/retx8"
        # the GRU at temperature 0.9 (the README's sentence)
        run_retention configs/retention-scratch800.yaml "$TMP/retx8t" --set 'models={"gru": "runs/folk-gru-long-noise"}' \
            --set temperature=0.9
        keep_report "$TMP/retx8t" "$OUT/retention-scratch800-t09-gru" config.yaml models.json report.md \
            retention-w32.png summary.json
    fi
    keep_report "$TMP/retx8" "$OUT/retention-scratch800"
    # a second cycle of the 800k runs: the GRU without and with the key loss, the LSTM and RNN with it
    retention_study configs/retention-keyloss.yaml "$TMP/retk" "$OUT/retention-keyloss" \
        gru-long-noise-more gru-long-noise-keyloss lstm-long-noise-keyloss rnn-long-noise-keyloss
    "$PY" benchmarks/key_confusion.py "$TMP"/retk/retention-* -o "$OUT/key-confusion-keyloss.md" >/dev/null
    # the same cycle with the key loss weighted 1.0, the GRU and the LSTM
    retention_study configs/retention-keyloss1.yaml "$TMP/retk1" "$OUT/retention-keyloss1" \
        gru-long-noise-keyloss1 lstm-long-noise-keyloss1
    "$PY" benchmarks/key_confusion.py "$TMP"/retk1/retention-* -o "$OUT/key-confusion-keyloss1.md" >/dev/null
    "$PY" benchmarks/key_confusion.py "$TMP"/retk1/retention-* --by-mode -o "$OUT/key-confusion-keyloss1-modes.md" \
        >/dev/null
    if (( ! QUICK )); then  # the state probe on the GRU without and with the key loss (0.25, 1.0), the LSTM before and with it
        "$PY" benchmarks/state_key.py --model runs/folk-gru-long-noise-more --model runs/folk-gru-long-noise-keyloss \
            --model runs/folk-gru-long-noise-keyloss1 --model runs/folk-lstm-long-noise \
            --model runs/folk-lstm-long-noise-keyloss --model runs/folk-lstm-long-noise-keyloss1 \
            -o "$OUT/state-key-keyloss.md" >/dev/null
    fi
    # LSTMs with the key loss at 1.0 from scratch, modes as in the corpus or equally often, and their second cycles
    retention_study configs/retention-lstm-keyloss.yaml "$TMP/retlk" "$OUT/retention-lstm-keyloss" \
        lstm-long-keyloss lstm-long-keyloss-equal lstm-long-keyloss2 lstm-long-keyloss2-equal
    "$PY" benchmarks/key_confusion.py "$TMP"/retlk/retention-* --by-mode -o "$OUT/key-confusion-lstm-keyloss.md" \
        >/dev/null
    # the GRU and the vanilla RNN trained as the equal-mode LSTM (which the step above trained)
    retention_study configs/retention-cells-equal.yaml "$TMP/retce" "$OUT/retention-cells-equal" \
        gru-long-keyloss-equal rnn-long-keyloss-equal
    # the minGRU and the minLSTM trained the same way for half the steps
    retention_study configs/retention-mincells-equal.yaml "$TMP/retme" "$OUT/retention-mincells-equal" \
        mingru-long-keyloss-equal minlstm-long-keyloss-equal
    seed_study retention-mincells-equal "1" mingru minlstm              # and their seed 1, pooled with seed 0
    # and the two for the full 2,600 steps of the three (configs/folk-{mingru,minlstm}-long-keyloss-equal-full.yaml)
    retention_study configs/retention-mincells-full.yaml "$TMP/retmf" "$OUT/retention-mincells-full" \
        mingru-long-keyloss-equal-full minlstm-long-keyloss-equal-full
    # seeds 1 and 2 of the three (the same configs, --set train.seed=N), pooled with seed 0 over the training runs
    seed_study retention-cells-equal "1 2" rnn lstm gru
fi

if want probe; then
    stamp probe
    if (( QUICK )); then
        "$MG" -q experiment probe --T 5,10 --cells rnn,lstm,gru,lstm:forget1,lstm:chrono --seeds 2 --steps 20 \
            -o "$TMP/probe" >/dev/null
        "$PY" benchmarks/probe_why.py --quick -o "$OUT/probe"
    else
        "$MG" -q experiment probe --T 10,30,100,300,1000 --cells rnn,lstm,gru,lstm:forget1,lstm:chrono --seeds 3 \
            --steps 400 -o "$TMP/probe" >/dev/null
        "$PY" benchmarks/probe_why.py -o "$OUT/probe"
    fi
    mkdir -p "$OUT/probe" && cp "$TMP"/probe/probe-*/{report.md,results.json,probe.csv,probe.png} "$OUT/probe/"
fi

if want memory; then
    stamp memory
    if (( QUICK )); then STEPS="--steps 3 --T 20"; else STEPS="--steps 200"; fi
    # shellcheck disable=SC2086
    "$MG" -q bench memory --preset bai --cell rnn,lstm,gru --seeds 3 $STEPS \
        --plot "$OUT/memory-bai.png" -o "$OUT/memory-bai.json" >/dev/null
    if (( QUICK )); then STEPS="--steps 3 --T 20"; else STEPS="--steps 200"; fi
    # shellcheck disable=SC2086
    "$MG" -q bench memory --preset bai --task adding --cell lstm:forget1,lstm:chrono --seeds 3 $STEPS \
        --plot "$OUT/memory-bai-lstm-inits.png" -o "$OUT/memory-bai-lstm-inits.json" >/dev/null
    if (( QUICK )); then STEPS="--steps 3 --T 10"; else STEPS="--steps 1500 --T 100"; fi
    # shellcheck disable=SC2086
    "$MG" -q bench memory --preset bai --cell lstm,lstm:forget1,lstm:chrono,gru --seeds 3 $STEPS \
        --plot "$OUT/memory-inits.png" -o "$OUT/memory-inits.json" >/dev/null
    # trained until solved (a run stops once 50 steps average under 5% of the baseline): the GRU at Bai's
    # T = 600; the LSTM and RNN with the GRU's slowest seed's steps; at T = 1,000 the LSTM with chrono
    # initialisation, and the default LSTM and the GRU with the chrono LSTM's slowest seed's steps
    solve() {  # name, then bench memory options
        local name=$1; shift
        if (( QUICK )); then set -- "$@" --steps 3 --T 20; fi
        "$MG" -q bench memory --preset bai --task adding --seeds 3 --until-solved "$@" \
            --plot "$OUT/memory-solve-$name.png" --curves "$OUT/memory-solve-$name-curves.png" \
            -o "$OUT/memory-solve-$name.json" >/dev/null
    }
    solve gru --cell gru --steps 2500
    solve lstm-rnn --cell lstm,rnn --steps 1100
    solve T1000-chrono --T 1000 --cell lstm:chrono --steps 3000
    solve T1000-lstm --T 1000 --cell lstm --steps 2300
    solve T1000-gru --T 1000 --cell gru --steps 2300
    # copy memory: the chrono LSTM at T = 100, longer and at four times Bai's learning rate
    if (( QUICK )); then STEPS="--steps 3 --T 10"; else STEPS="--steps 5000 --T 100"; fi
    # shellcheck disable=SC2086
    "$MG" -q bench memory --preset bai --task copy --cell lstm:chrono --seeds 3 --until-solved --lr 0.002 $STEPS \
        --plot "$OUT/memory-copy-T100-chrono.png" --curves "$OUT/memory-copy-T100-chrono-curves.png" \
        -o "$OUT/memory-copy-T100-chrono.json" >/dev/null
fi

if want polyphonic; then
    stamp polyphonic
    EPOCHS=(); (( QUICK )) && EPOCHS=(--epochs 1)
    for ds in jsb nottingham; do
        rm -f "$OUT"/polyphonic-"$ds"-*.json   # single-cell reruns, superseded by the full run
        "$MG" -q bench polyphonic --dataset "$ds" "${EPOCHS[@]}" -o "$OUT/polyphonic-$ds.json" >/dev/null
    done
fi

if want speech; then
    stamp speech
    ARGS=(--runs "$TMP/speech"); (( QUICK )) && ARGS+=(--epochs 1 --data npz)
    "$PY" benchmarks/speech_accuracy.py "${ARGS[@]}" > "$OUT/speech-accuracy.md"
fi

if want musicality; then
    stamp musicality
    if (( QUICK )); then
        echo "musicality: no quick mode (scripts/musicality.sh, copy_weight.py, copy_calibration.sh, the ending search, register.py and dances.py take about 20 minutes); skipped" >&2
    else
        MG="$MG" OUT="$OUT/musicality" bash scripts/musicality.sh
        MG="$MG" MODELS="folk-rnn folk-lstm folk-gru" NUM=16 SEEDS="1 2 3" OUT="$OUT/musicality-288" \
            GEN=generated/musicality-288 bash scripts/musicality.sh
        MG="$MG" MODELS="folk-lstm folk-gru" NUM=16 SEED=2 OUT="$OUT/musicality-96" GEN=generated/musicality-96 \
            bash scripts/musicality.sh
        for variant in "maxrun4 --max-run 4" "t11 --temperature 1.1" "minp0 --min-p 0" "maxloop3 --max-loop 3" \
                "maxloop0 --max-loop 0"; do   # other sampling
            read -r name opts <<< "$variant"
            MG="$MG" ARGS="$opts" MODELS="folk-lstm folk-gru" NUM=16 SEEDS="1 2 3" OUT="$OUT/musicality-288-$name" \
                GEN="generated/musicality-288-$name" bash scripts/musicality.sh
        done
        "$PY" benchmarks/repeats.py -o "$OUT/repeats.md"
        "$PY" benchmarks/static_bars.py generated/musicality-288/folk-rnn generated/musicality-288/folk-lstm \
            generated/musicality-288/folk-gru -o "$OUT/static-bars.md"   # the 288-tune sets drawn above
        "$PY" benchmarks/lengths.py generated/musicality-288/folk-lstm generated/musicality-288/folk-gru \
            -o "$OUT/lengths.md"
        "$PY" benchmarks/final_bars.py -o "$OUT/final-bars.md"   # how those sets' final bars were made
        "$PY" benchmarks/sampling.py -o "$OUT/sampling"   # 18 sampling settings on seeds 4-6, two processes
        for cell in lstm gru; do   # phase 9's recipe from the shipped model, three tenths of the inputs self-fed
            train_run "runs/folk-$cell-selffeed3" "configs/folk-$cell-tonic-copy-cadence32.yaml" \
                --set "model.start_from=folk-$cell" --set train.self_feed=0.3
        done
        MG="$MG" MODELS="runs/folk-lstm-selffeed3/last.pt runs/folk-gru-selffeed3/last.pt" NUM=16 SEEDS="1 2 3" \
            OUT="$OUT/selffeed3" GEN=generated/selffeed3 bash scripts/musicality.sh
        for cell in lstm gru; do   # phase 9's weight of 32 on the last note and the end only, from the shipped model
            train_run "runs/folk-$cell-note32" "configs/folk-$cell-note32.yaml"
        done
        MG="$MG" MODELS="runs/folk-lstm-note32/last.pt runs/folk-gru-note32/last.pt" NUM=16 SEEDS="1 2 3" \
            OUT="$OUT/note32" GEN=generated/note32 bash scripts/musicality.sh
        "$PY" benchmarks/static_bars.py generated/musicality-288/folk-lstm generated/note32/runs-folk-lstm-note32-last.pt \
            generated/musicality-288/folk-gru generated/note32/runs-folk-gru-note32-last.pt -o "$OUT/note32/static-bars.md"
        "$PY" benchmarks/copy_weight.py -o "$OUT/copy-weight"
        mkdir -p "$OUT/cadence"
        "$PY" benchmarks/ending_search.py --num 16 --endings 16 --seed 2 -o "$OUT/cadence/ending-search.md"
        "$PY" benchmarks/register.py -o "$OUT/register.md"
        "$PY" benchmarks/dances.py -o "$OUT/dances.md"
        "$PY" benchmarks/modal_keys.py -o "$OUT/modal-keys.md"
        "$PY" benchmarks/key_keepers.py -o "$OUT/key-keepers.md"
        MG="$MG" PY="$PY" OUT="$OUT/copy-calibrated" bash scripts/copy_calibration.sh
        for cell in lstm gru; do   # phase 8 with the cadence counted 32 times (needs runs/folk-CELL-tonic-copy-self)
            train_run "runs/folk-$cell-tonic-copy-cadence32" "configs/folk-$cell-tonic-copy-cadence32.yaml"
        done
        cad=(runs/folk-lstm-tonic-copy-self runs/folk-lstm-tonic-copy-cadence32 runs/folk-gru-tonic-copy-self
             runs/folk-gru-tonic-copy-cadence32)
        MG="$MG" MODELS="${cad[*]}" NUM=16 SEEDS="1 2 3" OUT="$OUT/cadence32-frame" GEN=generated/cadence32-frame \
            bash scripts/musicality.sh
        "$PY" benchmarks/endings.py "${cad[@]/#/--model=}" --tunes 300 -o "$OUT/cadence32-frame/endings.md"
    fi
fi

if want speed; then   # timings: run on a quiet machine (they say the load average they saw)
    stamp speed
    if (( QUICK )); then
        "$PY" benchmarks/keys.py --tunes 20 --repeat 1 --sequences 50 -o "$OUT/keys.md" >/dev/null
        "$PY" benchmarks/generate.py --notes 20 --repeat 1 --big-batch 16 -o "$OUT/generate.md" >/dev/null
    else
        [ -f datasets/keycache/bach.npz ] || "$PY" benchmarks/key_corpus.py --workers 2
        [ -f datasets/keycache/m21all/essen.partial.npz ] || "$PY" benchmarks/key_corpus.py --corpora essen --only ballad \
            --m21 krumhansl-kessler temperley-kostka-payne aarden-essen bellman-budge albrecht-shanahan sapp-simple \
            --cache-dir datasets/keycache/m21all --workers 2
        "$PY" benchmarks/key_accuracy.py -o "$OUT/key-accuracy.md" >/dev/null
        "$PY" benchmarks/keys.py --tunes 300 --repeat 3 -o "$OUT/keys.md" >/dev/null
        "$PY" benchmarks/tokenizer.py -o "$OUT/tokenizer.md" >/dev/null
        env -u OMP_NUM_THREADS "$PY" benchmarks/generate.py --notes 200 --repeat 3 --threads 1,2 -o "$OUT/generate.md" >/dev/null
        "$PY" benchmarks/demo.py -o "$OUT/demo.md" >/dev/null
    fi
fi

stamp done
if (( ! QUICK )); then
    "$PY" -m pytest -q -p no:cacheprovider tests/test_readme_tables.py || {
        echo "some README tables differ from the fresh results: update README.md and docs/ from $OUT" >&2; exit 1; }
fi
