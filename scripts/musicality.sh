#!/usr/bin/env bash
# The musicality table of the README: 8 tunes per key in six keys (majors, minors, modes) from each
# shipped model, default sampling settings, no key mask, then `musicgate evaluate` beside 200
# held-out real tunes of the folk corpus. Writes benchmarks/results/musicality/. Seed S draws key number K
# (0-5, in the order below) with generate's seed 6*S + K, so no two keys share a tune or a random draw.
#   bash scripts/musicality.sh            # about 2 minutes on a 2-core CPU
#   ARGS="--temperature 1.0" OUT=benchmarks/results/musicality-t1 bash scripts/musicality.sh   # other settings
#   MODELS="runs/folk-gru folk-gru" NUM=16 SEED=2 OUT=... bash scripts/musicality.sh   # other models, more tunes
#   NUM=16 SEEDS="1 2 3" OUT=... bash scripts/musicality.sh   # 288 tunes per model, three seeds in one set
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-.venv/bin/musicgate}
OUT=${OUT:-benchmarks/results/musicality}
GEN=${GEN:-generated/musicality}
read -r -a MODELS <<< "${MODELS:-folk-rnn folk-lstm folk-gru}"
NUM=${NUM:-8}
read -r -a SEEDS <<< "${SEEDS:-${SEED:-1}}"   # several seeds: one set per model holds all their tunes
read -r -a ARGS <<< "${ARGS:-}"   # extra generate options, the same for every model   # the tunes (not committed); the report goes to $OUT
rm -rf "$GEN"
"$MG" -q data prepare folk
sets=()
for model in "${MODELS[@]}"; do
    set_dir="$GEN/${model//\//-}"   # runs/folk-gru -> runs-folk-gru
    for seed in "${SEEDS[@]}"; do
        place=0
        for key in "D major" "G major" "A minor" "E minor" "A dorian" "D mixolydian"; do
            # each key its own seed: the shipped models compute in the tonic's frame, so one seed gives the
            # same tune, transposed, in D major and G major (and the same draws in every key)
            "$MG" -q generate --model "$model" --key "$key" --num "$NUM" --seed "$((seed * 6 + place))" -o "$set_dir" \
                "${ARGS[@]}" >/dev/null
            place=$((place + 1))
        done
    done
    sets+=("$set_dir")
done
"$MG" evaluate "${sets[@]}" --reference folk -o "$OUT"
