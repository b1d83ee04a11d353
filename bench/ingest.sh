#!/usr/bin/env bash
# Every foundation figure of docs/BENCHMARKS.md in one run:
#   bulk import, HTTP serving and event ingest (both durability modes, beside
#   a minimal Beast server), fixed-rate latency, restart with 5M events.
# Usage: bench/ingest.sh [WORK_DIR]   (default /tmp/vitrina-bench; needs ~3 GB)
# Env: DURATION (wrk seconds, default 15), EVENTS (restart test, default 5000000)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/vitrina-bench}
DURATION=${DURATION:-15}
EVENTS=${EVENTS:-5000000}
RETAIL=../shared/data/online_retail/online_retail.csv.zst
VITRINA=build/vitrina
export VITRINA_ADMIN_KEY=bench-admin-key-0123456789
export VITRINA_PUBLIC_KEY=bench-public-key-0123456789

VITRINA_BENCH_DEPS=1 scripts/install-deps.sh
cmake --build build --target vitrina minimal_http_server > /dev/null
rm -rf "$WORK" && mkdir -p "$WORK"

echo "# Vitrina foundation benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo

# ---------------------------------------------------------------- bulk import
echo "## Bulk import"
if [[ -f $RETAIL ]]; then
  start=$(date +%s%N); zstd -dc "$RETAIL" | wc -l > /dev/null; end=$(date +%s%N)
  echo "floor: zstd -dc | wc -l of the file: $(( (end - start) / 1000000 )) ms"
  for run in 1 2 3; do
    rm -rf "$WORK/retail"
    $VITRINA import --data "$WORK/retail" --format online-retail --no-progress "$RETAIL" | grep '^imported' |
      sed "s/^/online-retail run $run: /"
  done
else
  echo "(skipped: $RETAIL not present)"
fi
$VITRINA bench generate-events --count 1000000 --seed 1 --out "$WORK/1m.jsonl"
$VITRINA import --data "$WORK/jsonl" --format jsonl --no-progress "$WORK/1m.jsonl" | grep '^imported' |
  sed 's/^/jsonl, 1M synthetic events: /'
rm -rf "$WORK/jsonl" "$WORK/1m.jsonl"
echo

# ------------------------------------------------------------------ HTTP load
wait_port() { until [[ -s "$1" ]]; do sleep 0.01; done; cat "$1"; }
# wrk output -> "req/s p50 p99" with latencies in ms
wrk_summary() {
  awk '/Requests\/sec/ {rps=$2}
       /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       END {printf "%.0f req/s  p50 %.2f ms  p99 %.2f ms", rps, ms(p50), ms(p99)}'
}

echo "## HTTP: GET /health, keep-alive (wrk -t1/-t2, ${DURATION}s)"
build/bench/minimal_http_server 18181 & minimal=$!
sleep 0.3
for c in 1 32; do
  t=$([[ $c == 1 ]] && echo 1 || echo 2)
  echo "minimal Beast server, 1 thread, $c conn: $(wrk -t$t -c$c -d${DURATION}s --latency http://127.0.0.1:18181/health | wrk_summary)"
done
kill $minimal; wait $minimal 2>/dev/null || true
$VITRINA serve --data "$WORK/http" --port 0 --port-file "$WORK/port" --log.level warn & server=$!
PORT=$(wait_port "$WORK/port")
for c in 1 32; do
  t=$([[ $c == 1 ]] && echo 1 || echo 2)
  echo "vitrina serve, 2 threads, $c conn:       $(wrk -t$t -c$c -d${DURATION}s --latency http://127.0.0.1:$PORT/health | wrk_summary)"
done
kill $server; wait $server || true; rm -f "$WORK/port"
echo

echo "## HTTP event ingest: POST /v1/events (wrk, ${DURATION}s each; unique event ids)"
for durability in fsync os; do
  rm -rf "$WORK/ingest"
  $VITRINA serve --data "$WORK/ingest" --port 0 --port-file "$WORK/port" --log.level warn \
    --storage.durability $durability & server=$!
  PORT=$(wait_port "$WORK/port")
  export BENCH_KEY=$VITRINA_PUBLIC_KEY
  echo "durability=$durability, single events, 1 conn:   $(BENCH_BATCH=1 wrk -t1 -c1 -d${DURATION}s --latency -s bench/wrk_events.lua http://127.0.0.1:$PORT/ | wrk_summary)"
  echo "durability=$durability, single events, 32 conns: $(BENCH_BATCH=1 wrk -t2 -c32 -d${DURATION}s --latency -s bench/wrk_events.lua http://127.0.0.1:$PORT/ | wrk_summary)"
  line=$(BENCH_BATCH=100 wrk -t2 -c8 -d${DURATION}s --latency -s bench/wrk_events.lua http://127.0.0.1:$PORT/ | wrk_summary)
  rps=$(echo "$line" | awk '{print $1}')
  echo "durability=$durability, batches of 100, 8 conns: $line  = $(( rps * 100 )) events/s"
  kill $server; wait $server || true; rm -f "$WORK/port"
done
echo

echo "## Fixed rate: 1,000 single-event requests/s for 30 s (durability=fsync, 8 conns, open loop)"
rm -rf "$WORK/rate"
$VITRINA serve --data "$WORK/rate" --port 0 --port-file "$WORK/port" --log.level warn & server=$!
PORT=$(wait_port "$WORK/port")
$VITRINA bench http-load --port "$PORT" --rate 1000 --duration 30 --connections 8 --body-file bench/event.json \
  --key "$VITRINA_PUBLIC_KEY"
kill $server; wait $server || true; rm -f "$WORK/port"
rm -rf "$WORK/http" "$WORK/ingest" "$WORK/rate"
echo

# -------------------------------------------------------------------- restart
echo "## Restart with $EVENTS events"
$VITRINA bench generate-events --count "$EVENTS" --seed 5 --out "$WORK/events.jsonl"
$VITRINA import --data "$WORK/restart" --format jsonl --no-progress "$WORK/events.jsonl" | grep '^imported' |
  sed "s/^/jsonl import of $EVENTS events: /"
rm -f "$WORK/events.jsonl"
echo "data directory: $(du -sh "$WORK/restart" | cut -f1)"
echo "after a clean stop:"
bench/restart.sh "$WORK/restart" 3
echo "after 15 s of batch ingest over HTTP (durability=fsync) and a clean stop (SIGTERM):"
bench/crash_restart.sh "$WORK/restart" term 15
echo "after 15 s of batch ingest over HTTP (durability=fsync) and kill -9 (the log is replayed at start):"
bench/crash_restart.sh "$WORK/restart" kill 15
rm -rf "$WORK"
