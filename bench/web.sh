#!/usr/bin/env bash
# The dashboard's and the demo store's pages in headless Chromium: time from
# navigation to content drawn, over the demo store with served traffic, and
# the latency of the routes behind the overview.
#   make build && bench/web.sh [loads per page, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/vitrina-bench-web}
. bench/common.sh
bench_start "web pages"
echo "bundles (bytes, gzip -9):"
for f in build/web/dist/dashboard/app.js build/web/dist/demo/app.js build/web/dist/tracker/vitrina.js; do
  printf '  %-40s %7d %7d\n' "$f" "$(wc -c < "$f")" "$(gzip -9c "$f" | wc -c)"
done
echo
VITRINA_BIN=$VITRINA node web/bench/pages.mjs "${1:-20}"
