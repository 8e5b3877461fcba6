#!/usr/bin/env bash
# Retrain the three shipped models (folk-rnn, folk-lstm, folk-gru) from scratch and ship them:
# prepare the folk corpus, train each in nine phases (a killed run continues where it stopped):
#   1. configs/folk-CELL.yaml, one 4,000-step cosine schedule, into runs/folk-CELL;
#   2. configs/folk-CELL-form.yaml, 2,000 steps from phase 1 with form inputs (the bar lines so far
#      and left of a planned length), into runs/folk-CELL-form;
#   3. configs/folk-CELL-cadence.yaml, 1,000 steps from phase 2 with each tune's last bar counted 8
#      times in the loss, into runs/folk-CELL-cadence;
#   4. configs/folk-CELL-lookback.yaml, 1,200 steps from phase 3 with lookback inputs (the token that
#      came next 1, 2, 4 and 8 bars earlier at the same point of the bar), into runs/folk-CELL-lookback;
#   5. configs/folk-CELL-noise.yaml, 400 steps from phase 4 with a tenth of the input pitches moved by
#      1 or 2 semitones (the targets stay real), into runs/folk-CELL-noise;
#   6. configs/folk-CELL-tonic.yaml, 800 steps from phase 5 in the tonic frame (every tune read and
#      written as if its tonic were C), into runs/folk-CELL-tonic;
#   7. configs/folk-CELL-tonic-copy.yaml, 800 steps from phase 6 with the copy head (a bias toward the
#      token played 1, 2, 4 or 8 bars earlier), the repeat runs and the bar position, into
#      runs/folk-CELL-tonic-copy;
#   8. configs/folk-CELL-tonic-copy-self.yaml, 300 steps from phase 7 with only the copy head trained,
#      a tenth of the input pitches the model's own samples, into runs/folk-CELL-tonic-copy-self;
#   9. configs/folk-CELL-tonic-copy-cadence32.yaml, 400 steps from phase 8, every weight, each tune's last
#      bar counted 32 times, into runs/folk-CELL-tonic-copy-cadence32;
# and export phase 9's best checkpoint with its validation NLL and training log into
# musicgate/pretrained/.
#   bash scripts/train_shipped.sh            # all three models, one after another
#   bash scripts/train_shipped.sh lstm gru   # some of them
#   PARALLEL=1 bash scripts/train_shipped.sh # all three at once (how the shipped ones were trained:
#                                            # ~70-90 + ~55 + ~15 + ~40 + ~7 + ~20 + ~15 + ~5 + ~15 minutes on this 2-core CPU)
# One torch thread per process (10x faster than two on this 2-core CPU under load).
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-.venv/bin/musicgate}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=(rnn lstm gru)
for cell in "${cells[@]}"; do
    [[ "$cell" =~ ^(rnn|lstm|gru)$ ]] || { echo "train_shipped.sh: unknown cell '$cell' (rnn, lstm, gru)" >&2; exit 2; }
done
"$MG" data prepare folk
phase() {  # a killed run continues where it stopped; a finished one is left as it is
    local run="runs/$1"
    if [ -f "$run/last.pt" ]; then "$MG" train --resume "$run"; else "$MG" train "configs/$1.yaml" -o "$run"; fi
}
train() { phase "folk-$1" && phase "folk-$1-form" && phase "folk-$1-cadence" && phase "folk-$1-lookback" && phase "folk-$1-noise" && phase "folk-$1-tonic" \
    && phase "folk-$1-tonic-copy" && phase "folk-$1-tonic-copy-self" \
    && phase "folk-$1-tonic-copy-cadence32"; }
if [ -n "${PARALLEL:-}" ]; then
    pids=()
    for cell in "${cells[@]}"; do train "$cell" > "runs/folk-$cell.log" 2>&1 & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid"; done
else
    for cell in "${cells[@]}"; do train "$cell"; done
fi
for cell in "${cells[@]}"; do "$MG" export "runs/folk-$cell-tonic-copy-cadence32" "folk-$cell"; done   # one at a time: models.json
