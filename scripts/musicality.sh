#!/usr/bin/env bash
# The musicality table of the README: 8 tunes per key in six keys (majors, minors, modes) from each
# shipped model, default sampling settings, no key mask, then `musicgate evaluate` beside 200
# held-out real tunes of the folk corpus. Writes benchmarks/results/musicality/.
#   bash scripts/musicality.sh            # about 2 minutes on a 2-core CPU
#   ARGS="--temperature 1.0" OUT=benchmarks/results/musicality-t1 bash scripts/musicality.sh   # other settings
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-.venv/bin/musicgate}
OUT=${OUT:-benchmarks/results/musicality}
GEN=${GEN:-generated/musicality}
read -r -a ARGS <<< "${ARGS:-}"   # extra generate options, the same for every model   # the tunes (not committed); the report goes to $OUT
rm -rf "$GEN"
"$MG" -q data prepare folk
for model in folk-rnn folk-lstm folk-gru; do
    for key in "D major" "G major" "A minor" "E minor" "A dorian" "D mixolydian"; do
        "$MG" -q generate --model "$model" --key "$key" --num 8 --seed 1 -o "$GEN/$model" "${ARGS[@]}" >/dev/null
    done
done
"$MG" evaluate "$GEN/folk-rnn" "$GEN/folk-lstm" "$GEN/folk-gru" --reference folk -o "$OUT"
