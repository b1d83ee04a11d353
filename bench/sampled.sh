#!/usr/bin/env bash
# SASRec trained with the softmax over the whole catalog against the sampled
# softmax (models.sasrec.negatives), on "Amazon-3" (Beauty, Sports and Toys
# as one catalog of 42,382 items, built by bench/ann.sh): seconds per epoch
# and NDCG@10 after the same number of epochs (S3-Rec leave-one-out, full
# ranking, history items excluded), as reported in docs/BENCHMARKS.md.
# Usage: bench/sampled.sh [build/vitrina]   (about 6 minutes with the defaults)
# Env: EPOCHS (default 3), NEGATIVES (default "0 4096"; 0 is the full softmax)
set -euo pipefail
VITRINA=${1:-build/vitrina}
OUT=bench/results
EPOCHS=${EPOCHS:-3}
union="$OUT/amazon3.txt"
[[ -s $union ]] || { echo "run bench/ann.sh first (it builds $union)" >&2; exit 1; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for negatives in ${NEGATIVES:-0 4096}; do
  json="$OUT/amazon3-sasrec-negatives$negatives-epochs$EPOCHS.json"
  "$VITRINA" evaluate --dataset "$union" --format s3rec --protocol loo --exclude-seen --models sasrec --k 10 --json \
    --models.sasrec.dropout 0.5 --models.sasrec.max_epochs "$EPOCHS" --models.sasrec.negatives "$negatives" \
    > "$json" 2> >(grep -E 'epoch|trained in' | sed "s/^/negatives $negatives: /" >&2)
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("negatives %s: recall@10 %.4f  ndcg@10 %.4f  train %.0f s" % (sys.argv[2], r["metrics"]["recall@10"],
      r["metrics"]["ndcg@10"], r["train_seconds"]))
' "$json" "$negatives"
done
