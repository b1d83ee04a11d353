#!/usr/bin/env bash
# The learned ranker ("pipeline") beside its candidate sources, as reported in
# docs/BENCHMARKS.md: every model ranks all items for every test shopper, and
# the script prints each model's NDCG@10 and the pipeline's over the best
# single model. Writes bench/results/<set>-pipeline[-exclude-seen][-TAG].json.
# Usage: bench/pipeline.sh [build/vitrina]
# Env: DATASETS (default "online_retail": the temporal split, last 28 days;
#        also Beauty, Sports_and_Outdoors, Toys_and_Games: S3-Rec leave-one-out)
#      VARIANTS (default "incl excl": history items ranked, or never ranked)
#      SOURCES (default: models.pipeline.sources, "trending,category_popular,cooccurrence,ease,als")
#      MODELS (default: the sources, content, and pipeline)
#      TAG: appended to the result files, to keep runs with other SOURCES apart
#      SEEDS (default "1 2 3 4"): the pipeline alone again with these seeds
#        (its group sample, validation split and column sampling change with
#        the seed); the summary gives the mean over these and the main run (42)
set -euo pipefail
VITRINA=${1:-build/vitrina}
DATA=${VITRINA_SHARED_DATA:-../shared/data}
OUT=bench/results
mkdir -p "$OUT"
SOURCES=${SOURCES:-trending,category_popular,cooccurrence,ease,als}
MODELS=${MODELS:-$SOURCES,content,pipeline}
# Sequence-model sources train as in bench/sequential.sh.
FLAGS=(--models.pipeline.sources "$SOURCES" --models.sasrec.dropout 0.5
       --models.gru4rec.dropout_embed 0.3 --models.gru4rec.dropout_hidden 0.1 --models.gru4rec.logq 1)

summarize() {
  python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
best, best_name, pipeline = 0, "", None
for r in doc["results"]:
    if "metrics" not in r or not r["metrics"]:
        print("%s %-12s failed: %s" % (sys.argv[2], r["model"], r.get("error", "")))
        continue
    m = r["metrics"]
    print("%s %-12s recall@10 %.4f  ndcg@10 %.4f  mrr@10 %.4f  train %.1f s" % (sys.argv[2], r["model"],
          m["recall@10"], m["ndcg@10"], m["mrr@10"], r["train_seconds"]))
    if r["model"] == "pipeline":
        pipeline = m["ndcg@10"]
    elif m["ndcg@10"] > best:
        best, best_name = m["ndcg@10"], r["model"]
if pipeline is not None and best > 0:
    print("%s pipeline / best single model (%s): %.3f" % (sys.argv[2], best_name, pipeline / best))
' "$1" "$2"
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# sources: $SOURCES"
for name in ${DATASETS:-online_retail}; do
  for variant in ${VARIANTS:-incl excl}; do
    flags=()
    suffix=""
    if [[ $variant == excl ]]; then
      flags=(--exclude-seen)
      suffix="-exclude-seen"
    fi
    if [[ $name == online_retail ]]; then
      source=(--dataset "$DATA/online_retail/online_retail.csv.zst" --format online-retail --protocol temporal
              --test-days 28)
    else
      source=(--dataset "$DATA/amazon-s3rec/$name.txt.zst" --format s3rec --protocol loo)
    fi
    json="$OUT/$name-pipeline$suffix${TAG:+-$TAG}.json"
    /usr/bin/time -f "$name $variant: peak resident memory %M KB" \
      "$VITRINA" evaluate "${source[@]}" --models "$MODELS" --k 10,20 --json "${flags[@]}" "${FLAGS[@]}" \
      > "$json" 2> >(grep -E 'peak' >&2)
    summarize "$json" "$name $variant"
    seed_files=("$json")
    for seed in ${SEEDS-1 2 3 4}; do
      seed_json="$OUT/$name-pipeline$suffix${TAG:+-$TAG}-seed$seed.json"
      "$VITRINA" evaluate "${source[@]}" --models pipeline --k 10,20 --json --seed "$seed" "${flags[@]}" \
        "${FLAGS[@]}" > "$seed_json" 2> /dev/null
      seed_files+=("$seed_json")
    done
    python3 -c '
import json, sys
label, files = sys.argv[1], sys.argv[2:]
main = json.load(open(files[0]))
best = max(r["metrics"]["ndcg@10"] for r in main["results"] if r["model"] != "pipeline" and r.get("metrics"))
values = [r["metrics"]["ndcg@10"] for f in files for r in json.load(open(f))["results"]
          if r["model"] == "pipeline" and r.get("metrics")]
mean = sum(values) / len(values)
print("%s pipeline ndcg@10 over %d seeds: %s; mean %.4f (min %.4f, max %.4f); mean / best single model: %.3f"
      % (label, len(values), " ".join("%.4f" % v for v in values), mean, min(values), max(values), mean / best))
' "$name $variant" "${seed_files[@]}"
  done
done
