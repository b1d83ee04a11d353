#!/usr/bin/env bash
# `make demo`: import the bundled Online Retail sample into a fresh data
# directory and serve it on localhost:8080 (VITRINA_DEMO_PORT to change).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-build/vitrina}
CONFIG=demo/vitrina.toml
PORT=${VITRINA_DEMO_PORT:-8080}
unset VITRINA_DEMO_PORT  # not a setting of vitrina itself
setting() { sed -n "s/^$1 *= *\"\(.*\)\"/\1/p" "$CONFIG"; }
DATA=$(setting data_dir)
ADMIN=$(setting admin_key)
PUBLIC=$(setting public_key)
PORT_FILE=$(mktemp -u)

rm -rf "$DATA"
echo "== importing the demo store (demo/online_retail_sample.csv.zst, UCI Online Retail, CC BY 4.0)"
"$BIN" import --config "$CONFIG" --format online-retail demo/online_retail_sample.csv.zst

echo "== starting the server"
"$BIN" serve --config "$CONFIG" --port "$PORT" --port-file "$PORT_FILE" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$PORT_FILE"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 1 300); do
  [[ -s "$PORT_FILE" ]] && break
  if ! kill -0 $SERVER 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ ! -s "$PORT_FILE" ]]; then
  echo "vitrina demo: the server did not start (is port $PORT taken? try VITRINA_DEMO_PORT=8090 make demo)" >&2
  exit 1
fi
BASE="http://127.0.0.1:$PORT"
# The server trains its first model snapshot in the background at start.
echo "== training the first model snapshot"
for _ in $(seq 1 600); do
  curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/v1/models" | grep -q '"current":"' && break
  if ! kill -0 $SERVER 2>/dev/null; then break; fi
  sleep 0.1
done
cat <<INFO

Vitrina is serving the demo store at $BASE   (Ctrl-C stops it)

  the demo store   $BASE/demo        (browse it: "Picked for you" follows you)
  the dashboard    $BASE/dashboard   (admin key: $ADMIN)

  health      $BASE/health
  routes      $BASE/v1
  stats       curl -H 'Authorization: Bearer $ADMIN' $BASE/v1/stats
  an item     curl -H 'Authorization: Bearer $ADMIN' $BASE/v1/items/85123A
  a shopper   curl -H 'Authorization: Bearer $ADMIN' '$BASE/v1/users/18118/events?limit=3'

  models      curl -H 'Authorization: Bearer $ADMIN' $BASE/v1/models

  recommendations, with the public key (each item says why):
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/recommendations/for_you?user_id=18118&n=5'
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/recommendations/similar?item_id=85123A&n=5'
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/recommendations/cart?items=85123A,22423&n=5'
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/recommendations/trending?n=5'

  search, with typos, the wrong keyboard layout, facets and suggestions:
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/search?q=heart+holdr&user_id=18118&n=5'
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/search?q=%D0%B2%D1%89%D1%89%D0%BA%D1%8C%D1%84%D0%B5&n=5'
    curl -H 'Authorization: Bearer $PUBLIC' '$BASE/v1/search/suggest?q=lant'

  record a view (the public key may do this from a shop page), then ask
  for_you again: the answer follows the new event at once:
    curl -X POST $BASE/v1/events -H 'Authorization: Bearer $PUBLIC' \\
      -H 'Content-Type: application/json' \\
      -d '{"type":"view","user_id":"18118","item_id":"85123A","context":{"device":"mobile"}}'

INFO
wait $SERVER
