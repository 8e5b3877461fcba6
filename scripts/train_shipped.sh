#!/usr/bin/env bash
# Retrain the three shipped models (folk-rnn, folk-lstm, folk-gru) from scratch and ship them:
# prepare the folk corpus, train each config in configs/ (one 4,000-step cosine schedule; a killed
# run continues where it stopped), and export the best checkpoint with its validation NLL and
# training log into musicgate/pretrained/.
#   bash scripts/train_shipped.sh            # all three, one after another
#   bash scripts/train_shipped.sh lstm gru   # some of them
#   PARALLEL=1 bash scripts/train_shipped.sh # all three at once (how the shipped ones were trained:
#                                            # ~70-90 minutes on this 2-core CPU)
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
train() {  # a killed run continues where it stopped
    local run="runs/folk-$1"
    if [ -f "$run/last.pt" ]; then "$MG" train --resume "$run"; else "$MG" train "configs/folk-$1.yaml" -o "$run"; fi
}
if [ -n "${PARALLEL:-}" ]; then
    pids=()
    for cell in "${cells[@]}"; do train "$cell" > "runs/folk-$cell.log" 2>&1 & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid"; done
else
    for cell in "${cells[@]}"; do train "$cell"; done
fi
for cell in "${cells[@]}"; do "$MG" export "runs/folk-$cell" "folk-$cell"; done   # one at a time: models.json
