#!/usr/bin/env bash
# The copy head calibrated (docs/shipped-models.md, "The copy head calibrated"), for the LSTM and the GRU:
#   phase 7       runs/folk-CELL-tonic-copy (bash scripts/train_shipped.sh trains it; shipped until phase 8)
#   clean         its copy head alone trained 300 steps on clean inputs (configs/folk-CELL-copy-calibrate.yaml)
#   phase 8       its copy head alone trained 300 steps reading a tenth of its own sampled pitches
#                 (configs/folk-CELL-tonic-copy-self.yaml; what ships)
# the two trained here where absent (a finished run is kept), then
#   benchmarks/copying.py on the three     -> $OUT/copying.md (teacher-forced: how sure of a copy?)
#   288 tunes per model: the musicality recipe's six keys, 16 tunes per key for seeds 1, 2 and 3,
#   default sampling settings, `musicgate evaluate` beside 200 real tunes -> $OUT/evaluate.{md,json,png},
#   and benchmarks/loops.py on it -> $OUT/loops.md (how many times one passage comes in a row)
#   bash scripts/copy_calibration.sh    # ~5 min training, ~5 min sampling and measuring (two cells at once, 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-.venv/bin/musicgate}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/results/copy-calibrated}
GEN=${GEN:-generated/copy-calibrated}   # the tunes (not committed)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for cell in lstm gru; do
    [ -e "runs/folk-$cell-tonic-copy" ] || { echo "copy_calibration.sh: runs/folk-$cell-tonic-copy (phase 7) is not" \
        "there; train the shipped models' phases first: bash scripts/train_shipped.sh $cell" >&2; exit 2; }
done
"$MG" -q data prepare folk
train_run() {  # train_run RUN CONFIG: train RUN from CONFIG if absent, else resume it (a finished run stops at once)
    if [ -f "$1/last.pt" ]; then "$MG" -q train --resume "$1"; else "$MG" -q train "$2" -o "$1"; fi
}
measure() {  # measure CELL: its two runs, then 288 tunes from each of the three models
    local cell=$1 model set_dir seed key
    train_run "runs/folk-$cell-copy-calibrate" "configs/folk-$cell-copy-calibrate.yaml"
    train_run "runs/folk-$cell-tonic-copy-self" "configs/folk-$cell-tonic-copy-self.yaml"
    for model in "runs/folk-$cell-tonic-copy" "runs/folk-$cell-copy-calibrate" "runs/folk-$cell-tonic-copy-self"; do
        set_dir="$GEN/${model#runs/}"
        rm -rf "$set_dir"
        for seed in 1 2 3; do
            for key in "D major" "G major" "A minor" "E minor" "A dorian" "D mixolydian"; do
                "$MG" -q generate --model "$model" --key "$key" --num 16 --seed "$seed" -o "$set_dir" >/dev/null
            done
        done
    done
}
measure lstm & lstm_pid=$!
measure gru & gru_pid=$!
wait "$lstm_pid"
wait "$gru_pid"
mkdir -p "$OUT"
models=()
for cell in lstm gru; do
    for run in tonic-copy copy-calibrate tonic-copy-self; do models+=(--model "runs/folk-$cell-$run"); done
done
"$PY" benchmarks/copying.py "${models[@]}" -o "$OUT/copying.md"
sets=()
for cell in lstm gru; do
    for run in tonic-copy copy-calibrate tonic-copy-self; do sets+=("$GEN/folk-$cell-$run"); done
done
"$MG" evaluate "${sets[@]}" --reference folk -o "$OUT"
"$PY" benchmarks/loops.py "$OUT/evaluate.json" -o "$OUT/loops.md" >/dev/null
