#!/usr/bin/env bash
# Time from `vitrina serve` starting to its first answered /health, on an
# existing data directory. Usage: bench/restart.sh DATA_DIR [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/restart.sh DATA_DIR [RUNS]}
RUNS=${2:-5}
PORT_FILE=$(mktemp -u)
export VITRINA_ADMIN_KEY=bench-admin-key-0123456789
for run in $(seq 1 "$RUNS"); do
  rm -f "$PORT_FILE"
  start=$(date +%s%N)
  build/vitrina serve --data "$DATA" --port 0 --port-file "$PORT_FILE" --log.level warn &
  pid=$!
  until [[ -s "$PORT_FILE" ]]; do sleep 0.002; done
  until curl -sf "http://127.0.0.1:$(cat "$PORT_FILE")/health" > /dev/null; do sleep 0.002; done
  end=$(date +%s%N)
  events=$(curl -sf -H "Authorization: Bearer $VITRINA_ADMIN_KEY" "http://127.0.0.1:$(cat "$PORT_FILE")/v1/stats" |
           sed 's/.*"events":\([0-9]*\).*/\1/')
  echo "run $run: ready in $(( (end - start) / 1000000 )) ms with $events events"
  kill "$pid"
  wait "$pid" || true
done
rm -f "$PORT_FILE"
