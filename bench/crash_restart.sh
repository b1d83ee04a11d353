#!/usr/bin/env bash
# Restart time after kill -9 under write load: the write-ahead log must be
# replayed. Usage: bench/crash_restart.sh DATA_DIR [LOAD_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/crash_restart.sh DATA_DIR [LOAD_SECONDS]}
SECONDS_OF_LOAD=${2:-15}
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
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
wait "$wrk_pid" 2>/dev/null || true
echo "killed with at least $before events acknowledged; log files: $(ls "$DATA"/*.log 2>/dev/null | wc -l), $(du -ch "$DATA"/*.log 2>/dev/null | tail -1 | cut -f1)"
bench/restart.sh "$DATA" 1
