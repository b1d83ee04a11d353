#!/usr/bin/env bash
# Search figures of docs/BENCHMARKS.md (issue 6):
#   1. quality: NDCG@10 and zero-result rate on queries labelled from the
#      Online Retail catalog (skipped without ../shared/data), with the
#      engine's parts switched off one at a time;
#   2. in process, a synthetic catalog of 100,000 items (Russian and English
#      titles): index build rate, memory per item, search latency on 2 threads;
#   3. over HTTP: the same catalog imported and served, open-loop GET
#      /v1/search at a fixed rate (queries with typos, wrong layout, filters,
#      a third of them by shoppers with a history), with /health as the floor.
# Usage: bench/search.sh [WORK_DIR]   (default /tmp/vitrina-search)
# Env: RATE (requests/s, default 300), DURATION (seconds per round, default 20), ITEMS (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/vitrina-search}
RATE=${RATE:-300}
DURATION=${DURATION:-20}
ITEMS=${ITEMS:-100000}
DATA=../shared/data/online_retail/online_retail.csv.zst
source bench/common.sh
bench_start search

echo "## Quality on Online Retail"
if [[ -f $DATA ]]; then
  $VITRINA bench search-quality --dataset "$DATA" --queries-out "$WORK/queries.tsv"
else
  echo "skipped: $DATA is absent"
fi
echo

echo "## In process, $ITEMS items"
$VITRINA bench search-latency --items "$ITEMS" --queries 20000 --threads 2
echo

echo "## Over HTTP, $ITEMS items, $RATE requests/s, ${DURATION}s each after 2 s warm-up, 8 connections"
$VITRINA bench search-latency --items "$ITEMS" --queries 50000 --write "$WORK/shop" > /dev/null
$VITRINA import --data "$WORK/data" --format jsonl --kind items --no-progress "$WORK/shop/items.jsonl" | grep '^imported' |
  sed 's/^/items: /'
$VITRINA import --data "$WORK/data" --format jsonl --no-progress "$WORK/shop/events.jsonl" | grep '^imported' |
  sed 's/^/events: /'
# The snapshot (popularity, ALS) first, so that no training runs during the rounds.
$VITRINA train --data "$WORK/data" --no-progress --training.models trending,als | grep '^snapshot' || true
rm -f "$WORK/port"
$VITRINA serve --data "$WORK/data" --port 0 --port-file "$WORK/port" --log.level info --training.interval_s 0 \
  2> "$WORK/serve.log" &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
until [[ -s "$WORK/port" ]]; do sleep 0.05; done
PORT=$(cat "$WORK/port")
grep -o 'search index: .*' "$WORK/serve.log" || true
echo "resident memory after start: $(rss $server)"
load() {
  $VITRINA bench http-load --port "$PORT" --rate "$RATE" --duration "$DURATION" --warmup 2 --connections 8 --method GET \
    --key "$VITRINA_PUBLIC_KEY" "$@" | grep latency
}
for round in 1 2 3; do
  echo "round $round"
  echo "  GET /health        $(load --path /health)"
  echo "  GET /v1/search?... $(load --paths-file "$WORK/shop/search.paths")"
done
echo "resident memory after the rounds: $(rss $server)"
kill $server
wait $server 2> /dev/null || true
