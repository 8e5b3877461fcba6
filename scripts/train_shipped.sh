#!/usr/bin/env bash
# Retrain the three shipped models (folk-rnn, folk-lstm, folk-gru) from scratch and ship them:
# prepare the folk corpus, train each config in configs/, export the best checkpoint with its
# validation NLL and training log into musicgate/pretrained/.
#   bash scripts/train_shipped.sh            # all three, one after another
#   bash scripts/train_shipped.sh lstm gru   # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-.venv/bin/musicgate}
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=(rnn lstm gru)
"$MG" data prepare folk
for cell in "${cells[@]}"; do
    run="runs/folk-$cell"
    if [ -f "$run/last.pt" ]; then
        "$MG" train --resume "$run"           # a killed run continues where it stopped
    else
        "$MG" train "configs/folk-$cell.yaml" --run-dir "$run"
    fi
    "$MG" export "$run" "folk-$cell"
done
