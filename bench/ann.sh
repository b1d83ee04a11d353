#!/usr/bin/env bash
# The approximate (HNSW) index of the sequence models against exact ranking:
# recall of the top 10 and 50 and the time to get them, on real trained
# embeddings, as reported in docs/BENCHMARKS.md.
#   - Beauty (12,101 items): sasrec trained 30 epochs, gru4rec 10.
#   - "Amazon-3" (42,253 items): Beauty, Sports and Toys as one catalog
#     (user and item ids offset by a million per set), gru4rec trained 10
#     epochs, sasrec 5.
# Trained models are kept in bench/results/ann-*.bin so that a rerun only
# rebuilds the index (delete them to retrain). Usage: bench/ann.sh [build/vitrina]
# (about 30 minutes from scratch on 2 cores, 8 with the models kept)
set -euo pipefail
VITRINA=${1:-build/vitrina}
DATA=${VITRINA_SHARED_DATA:-../shared/data}
OUT=bench/results
mkdir -p "$OUT"

union="$OUT/amazon3.txt"
if [[ ! -s $union ]]; then
  offset=0
  for name in Beauty Sports_and_Outdoors Toys_and_Games; do
    zstd -dc "$DATA/amazon-s3rec/$name.txt.zst" | awk -v o="$offset" '{ for (i = 1; i <= NF; ++i) $i += o; print }'
    offset=$((offset + 1000000))
  done > "$union"
fi

run() {  # dataset model epochs
  local label=$1 dataset=$2 model=$3 epochs=$4
  local file="$OUT/ann-$label-$model.bin"
  rm -f "$file.ann"  # the index is always rebuilt with the current settings
  for k in 10 50; do
    "$VITRINA" bench score --dataset "$dataset" --format s3rec --model "$model" --epochs "$epochs" \
      --model-file "$file" --ann --k "$k" --requests 2000 | sed "s/^/$label $model k=$k: /"
    rm -f "$file.ann"
  done
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
run beauty "$DATA/amazon-s3rec/Beauty.txt.zst" sasrec 30
run beauty "$DATA/amazon-s3rec/Beauty.txt.zst" gru4rec 10
run amazon3 "$union" gru4rec 10
run amazon3 "$union" sasrec 5
