#!/usr/bin/env bash
# Sequence models (SASRec, GRU4Rec) on the Amazon sets under the S3-Rec
# leave-one-out protocol with full ranking, and the time to score one
# shopper, as reported in docs/BENCHMARKS.md. Writes
# bench/results/<set>-loo-sequential[-exclude-seen][-features].json.
# Usage: bench/sequential.sh [build/vitrina]   (about 12 minutes per set and variant)
# Env: DATASETS (default "Beauty"; also Sports_and_Outdoors, Toys_and_Games, and
#        online_retail: the temporal split, last 28 days),
#      VARIANTS (default "incl excl": history items ranked, or never ranked as in S3-Rec)
#      MODELS (default "sasrec,gru4rec")
#      FEATURES=1: sasrec with item side features (models.sasrec.item_features);
#        results go to ...-features.json
#      SKIP_SCORE=1: skip the scoring-latency runs at the end
#      SASREC_DROPOUT (default 0.5) and SASREC_FLAGS (more sasrec settings, e.g.
#        "--models.sasrec.dim 128"), with TAG: a name appended to the result
#        files (...-TAG.json) so that such runs stay apart
set -euo pipefail
VITRINA=${1:-build/vitrina}
DATA=${VITRINA_SHARED_DATA:-../shared/data}
OUT=bench/results
mkdir -p "$OUT"
# The settings measured; everything else is the default of docs/CONFIG.md.
SASREC=(--models.sasrec.dropout "${SASREC_DROPOUT:-0.5}")
MODELS=${MODELS:-sasrec,gru4rec}
features=""
if [[ ${FEATURES:-0} == 1 ]]; then
  SASREC+=(--models.sasrec.item_features true)
  features="-features"
fi
read -r -a extra <<< "${SASREC_FLAGS:-}"
SASREC+=("${extra[@]}")
features+=${TAG:+-$TAG}
GRU4REC=(--models.gru4rec.dropout_embed 0.3 --models.gru4rec.dropout_hidden 0.1 --models.gru4rec.logq 1)

summarize() {
  python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
for r in doc["results"]:
    m = r["metrics"]
    print("%s %-8s recall@10 %.4f  ndcg@10 %.4f  recall@20 %.4f  ndcg@20 %.4f  train %.0f s" % (sys.argv[2],
          r["model"], m["recall@10"], m["ndcg@10"], m["recall@20"], m["ndcg@20"], r["train_seconds"]))
' "$1" "$2"
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for name in ${DATASETS:-Beauty}; do
  for variant in ${VARIANTS:-incl excl}; do
    flags=()
    suffix=""
    if [[ $variant == excl ]]; then
      flags=(--exclude-seen)
      suffix="-exclude-seen"
    fi
    if [[ $name == online_retail ]]; then
      json="$OUT/$name-temporal28-sequential$suffix$features.json"
      source=(--dataset "$DATA/online_retail/online_retail.csv.zst" --format online-retail --protocol temporal
              --test-days 28)
    else
      json="$OUT/$name-loo-sequential$suffix$features.json"
      source=(--dataset "$DATA/amazon-s3rec/$name.txt.zst" --format s3rec --protocol loo)
    fi
    /usr/bin/time -f "$name $variant: peak resident memory %M KB" \
      "$VITRINA" evaluate "${source[@]}" --models "$MODELS" --k 10,20 --json "${flags[@]}" "${SASREC[@]}" \
      "${GRU4REC[@]}" > "$json" 2> >(grep -E 'trained in|peak' >&2)
    summarize "$json" "$name $variant"
  done
done
[[ -n ${SKIP_SCORE:-} ]] && exit 0
for model in sasrec gru4rec; do
  "$VITRINA" bench score --model "$model" --items 20000 --history 50 --requests 3000 | tail -n 1 | sed "s/^/$model /"
done
