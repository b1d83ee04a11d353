#!/usr/bin/env bash
# Offline quality of every model on the shared datasets, as reported in
# docs/BENCHMARKS.md. Writes one JSON file per run to bench/results/.
# Usage: bench/evaluate.sh [build/vitrina]
set -euo pipefail
VITRINA=${1:-build/vitrina}
DATA=${VITRINA_SHARED_DATA:-../shared/data}
OUT=bench/results
mkdir -p "$OUT"
MODELS=trending,cooccurrence,ease,als,content

for name in Beauty Sports_and_Outdoors Toys_and_Games; do
  file="$DATA/amazon-s3rec/$name.txt.zst"
  "$VITRINA" evaluate --dataset "$file" --format s3rec --protocol loo --models "$MODELS" --k 10,20 --json \
    > "$OUT/$name-loo.json"
  "$VITRINA" evaluate --dataset "$file" --format s3rec --protocol loo --models "$MODELS" --k 10,20 --json \
    --exclude-seen > "$OUT/$name-loo-exclude-seen.json"
done
retail="$DATA/online_retail/online_retail.csv.zst"
"$VITRINA" evaluate --dataset "$retail" --format online-retail --protocol temporal --test-days 28 \
  --models "$MODELS" --k 10,20 --json > "$OUT/online_retail-temporal28.json"
"$VITRINA" evaluate --dataset "$retail" --format online-retail --protocol temporal --test-days 28 \
  --models "$MODELS" --k 10,20 --json --exclude-seen > "$OUT/online_retail-temporal28-exclude-seen.json"
