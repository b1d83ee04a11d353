#!/usr/bin/env bash
# Serving and training-speed figures of docs/BENCHMARKS.md (recommendations):
#   1. a synthetic shop of 50,000 items and 200,000 shoppers (vitrina bench gen),
#      imported and trained with the default models;
#   2. open-loop load at 500 requests/s: GET /health (the floor of the setup),
#      trending, and for_you for shoppers drawn by activity; resident memory;
#   3. ALS seconds per iteration at 64 factors on a synthetic set the size of
#      MovieLens-20M with ratings >= 4 (about 10M user-item pairs).
# Usage: bench/serving.sh [WORK_DIR]   (default /tmp/vitrina-serving; needs ~2 GB)
# Env: DURATION (seconds of each load, default 20), RATE (default 500),
#      MODELS (training.models; default the defaults, e.g.
#        "trending,category_popular,cooccurrence,als,content,pipeline" for the learned ranker),
#      SKIP_ALS=1: skip the ALS training-speed section
#      EXPERIMENT=1: each round also runs for_you with an A/A test serving it (two variants both
#        served the default way): the cost of assignment and experiment bookkeeping on every request
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/vitrina-serving}
DURATION=${DURATION:-20}
RATE=${RATE:-500}
MODEL_FLAGS=()
[[ -n ${MODELS:-} ]] && MODEL_FLAGS=(--training.models "$MODELS")
source bench/common.sh
bench_start serving

echo "## Synthetic shop"
$VITRINA bench gen --out "$WORK/shop" --items 50000 --users 200000 --seed 42 --requests 200000
$VITRINA import --data "$WORK/data" --format jsonl --kind items --no-progress "$WORK/shop/items.jsonl" | grep '^imported' |
  sed 's/^/items: /'
$VITRINA import --data "$WORK/data" --format jsonl --no-progress "$WORK/shop/events.jsonl" | grep '^imported' | sed 's/^/events: /'
rm "$WORK/shop/events.jsonl" "$WORK/shop/items.jsonl"
echo "models: ${MODELS:-the defaults}"
/usr/bin/time -f "training peak resident memory: %M KB" $VITRINA train --data "$WORK/data" --no-progress "${MODEL_FLAGS[@]}" 2>&1 |
  grep -E '^snapshot|recall@10|peak'
echo "snapshot files: $(du -sh "$WORK"/data/models/*/ | cut -f1); store without models: $(du -sh --exclude=models "$WORK/data" | cut -f1)"
ls -l "$WORK"/data/models/*/ | awk 'NR > 1 {printf "  %-18s %6.1f MB\n", $9, $5 / 1e6}'
echo

echo "## Open-loop load, $RATE requests/s, ${DURATION}s each after 2 s warm-up, 8 connections, load generator on the same cores"
echo "(three rounds; /health is the floor of the setup at the same moment)"
rm -f "$WORK/port"
$VITRINA serve --data "$WORK/data" --port 0 --port-file "$WORK/port" --log.level warn --training.interval_s 0 \
  "${MODEL_FLAGS[@]}" &
server=$!
until [[ -s "$WORK/port" ]]; do sleep 0.05; done
PORT=$(cat "$WORK/port")
echo "resident memory after start (snapshot loaded): $(rss $server)"
# Shoppers' recent events are loaded into memory in the background; until
# then they are read from disk. The rounds start once it is done.
loaded_at=$(date +%s.%N)
stats() { curl -sf -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$PORT/v1/stats"; }
until stats | grep -q '"loaded":true'; do sleep 0.1; done
echo "recent events in memory after $(awk -v a="$loaded_at" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s:" \
  "$(stats | grep -o '"recent_events_in_memory":{[^}]*}'); resident memory $(rss $server)"
load() {
  $VITRINA bench http-load --port "$PORT" --rate "$RATE" --duration "$DURATION" --connections 8 --method GET \
    --key "$VITRINA_PUBLIC_KEY" "$@" | grep latency
}
# The server's CPU time (user + system, ms) and bytes read from disk so far.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f", ($14 + $15) * 1000 / hz}' "/proc/$server/stat"; }
disk_read() { awk '/^read_bytes/ {print $2}' "/proc/$server/io"; }
# for_you over a paths file, then the server's CPU per request and disk reads during it.
for_you_round() {
  local cpu0 disk0 line
  cpu0=$(cpu_ms); disk0=$(disk_read)
  line=$(load --paths-file "$1")
  echo "  GET /v1/recommendations/for_you?user_id=...  $line"
  awk -v c0="$cpu0" -v c1="$(cpu_ms)" -v d0="$disk0" -v d1="$(disk_read)" -v n=$(( RATE * (DURATION + 2) )) \
    'BEGIN {printf "    server CPU %.2f ms per request (user + system); read from disk %.1f MB\n", (c1 - c0) / n, (d1 - d0) / 1e6}'
}
for round in 1 2 3; do
  echo "round $round"
  echo "  GET /health                                  $(load --path /health)"
  echo "  GET /v1/recommendations/trending?n=10        $(load --path '/v1/recommendations/trending?n=10')"
  # Each round starts RATE x DURATION lines further into the mix, so it meets shoppers not asked for yet.
  tail -n +$(( (round - 1) * RATE * DURATION + 1 )) "$WORK/shop/for_you.paths" > "$WORK/round.paths"
  for_you_round "$WORK/round.paths"
  if [[ -n ${EXPERIMENT:-} ]]; then
    curl -sf -X POST -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$PORT/v1/experiments" -d \
      '{"id":"bench'$round'","name":"bench","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b"}]}' > /dev/null
    tail -n +$(( (round + 3) * RATE * DURATION + 1 )) "$WORK/shop/for_you.paths" > "$WORK/round.paths"
    echo "  with an A/A experiment serving for_you:"
    for_you_round "$WORK/round.paths"
    curl -sf -X POST -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$PORT/v1/experiments/bench$round/stop" > /dev/null
  fi
done
echo "resident memory after the load (RocksDB block cache warm): $(rss $server)"
curl -sf -X POST -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$PORT/v1/models/train" > /dev/null
tail -n +$(( 3 * RATE * DURATION + 1 )) "$WORK/shop/for_you.paths" > "$WORK/round.paths"
echo "during training (POST /v1/models/train just before; the CPU includes training's):"
for_you_round "$WORK/round.paths"
echo "  training: $(curl -sf -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$PORT/v1/models" |
  grep -o '"training":{[^}]*}')"
kill $server; wait $server || true
rm -f "$WORK/port"
echo
$VITRINA serve --data "$WORK/empty" --port 0 --port-file "$WORK/port" --log.level warn &
server=$!
until [[ -s "$WORK/port" ]]; do sleep 0.05; done
sleep 1
echo "  resident memory of a server with no data: $(rss $server)"
kill $server; wait $server || true
rm -rf "$WORK/data" "$WORK/empty" "$WORK/port" "$WORK/shop"
echo

[[ -n ${SKIP_ALS:-} ]] && { rm -rf "$WORK"; exit 0; }
echo "## ALS seconds per iteration (64 factors, 3 CG steps, 2 threads)"
$VITRINA bench gen --out "$WORK/ml" --format s3rec --items 20720 --users 136677 --sessions-per-user 20 \
  --views-per-session 6 --popularity-exponent 0.7 --seed 42 | head -1
pairs=$(awk '{delete s; for (i = 2; i <= NF; i++) s[$i] = 1; n += length(s)} END {print n}' "$WORK/ml/sequences.txt")
echo "distinct user-item pairs: $pairs"
for iterations in 1 15; do
  seconds=$($VITRINA evaluate --dataset "$WORK/ml/sequences.txt" --format s3rec --protocol loo --models als \
    --models.als.iterations $iterations --json 2>/dev/null | sed 's/.*"train_seconds":\([0-9.]*\).*/\1/')
  echo "als, $iterations iteration(s): trained in $seconds s"
  eval "t$iterations=$seconds"
done
awk -v a="$t1" -v b="$t15" 'BEGIN {printf "seconds per iteration: (%s - %s) / 14 = %.2f\n", b, a, (b - a) / 14}'
rm -rf "$WORK"
