#!/usr/bin/env bash
# Retrain the three shipped models (folk-rnn, folk-lstm, folk-gru) from scratch and ship them:
# prepare the folk corpus, train each config in configs/ (phase 1: its own cosine schedule), continue
# it to the final step count with a second cosine schedule (phase 2: `train --resume --set
# train.steps=N`, a warm restart), and export the best checkpoint with its validation NLL and
# training log into musicgate/pretrained/.
#   bash scripts/train_shipped.sh            # all three, one after another
#   bash scripts/train_shipped.sh lstm gru   # some of them
# One torch thread per process (10x faster than two on this 2-core CPU under load).
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-.venv/bin/musicgate}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
declare -A FINAL=([rnn]=2800 [lstm]=2200 [gru]=2800)   # phase 2 ends here (steps of 32 whole tunes)
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=(rnn lstm gru)
"$MG" data prepare folk
for cell in "${cells[@]}"; do
    [ -n "${FINAL[$cell]:-}" ] || { echo "train_shipped.sh: unknown cell '$cell' (rnn, lstm, gru)" >&2; exit 2; }
    run="runs/folk-$cell"
    if [ ! -f "$run/last.pt" ]; then
        "$MG" train "configs/folk-$cell.yaml" -o "$run"
    fi
    # phase 2 (and a killed run of either phase continues where it stopped)
    "$MG" train --resume "$run" --set "train.steps=${FINAL[$cell]}"
    "$MG" export "$run" "folk-$cell"
done
