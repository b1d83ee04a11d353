#!/usr/bin/env bash
# Restart time after stopping the server under write load.
#   kill: kill -9, so the start replays the write-ahead log;
#   term: SIGTERM, a clean stop that flushes memtables first.
# Usage: bench/crash_restart.sh DATA_DIR [kill|term] [LOAD_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/crash_restart.sh DATA_DIR [kill|term] [LOAD_SECONDS]}
MODE=${2:-kill}
SECONDS_OF_LOAD=${3:-15}
PORT_FILE=$(mktemp -u)
export VITRINA_ADMIN_KEY=bench-admin-key-0123456789
export BENCH_KEY=$VITRINA_ADMIN_KEY BENCH_BATCH=100

build/vitrina serve --data "$DATA" --port 0 --port-file "$PORT_FILE" --log.level warn &
pid=$!
until [[ -s "$PORT_FILE" ]]; do sleep 0.01; done
PORT=$(cat "$PORT_FILE")
wrk -t1 -c8 -d"${SECONDS_OF_LOAD}s" -s bench/wrk_events.lua "http://127.0.0.1:$PORT/" > /dev/null 2>&1 &
wrk_pid=$!
sleep "$((SECONDS_OF_LOAD - 2))"
before=$(curl -sf -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$PORT/v1/stats" |
         sed 's/.*"events":\([0-9]*\).*/\1/')
log_bytes() { du -cb "$DATA"/*.log 2>/dev/null | tail -1 | cut -f1; }
if [[ $MODE == kill ]]; then
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  echo "killed (-9) with at least $before events acknowledged; write-ahead log to replay: $(( $(log_bytes) / 1048576 )) MiB"
else
  start=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || true
  end=$(date +%s%N)
  echo "stopped (SIGTERM) in $(( (end - start) / 1000000 )) ms with at least $before events acknowledged; write-ahead log left: $(( $(log_bytes) / 1048576 )) MiB"
fi
wait "$wrk_pid" 2>/dev/null || true
rm -f "$PORT_FILE"
bench/restart.sh "$DATA" 1
