#!/usr/bin/env bash
# One command from a fresh clone to a node answering interactions:
# installs the wasm target, builds the node and the example bots, starts the
# node on its embedded defaults (./appliance-data, public HTTPS on 0.0.0.0:8443
# with a self-signed certificate, admin API on 127.0.0.1:8444), deploys the
# `ping` and `counter` examples, and sends each a test interaction.
# Ctrl-C stops the node; the data dir (and the deployed bots) stay for next time.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
cargo build --release
cargo build --profile guest --target wasm32-wasip2 -p ping-bot -p counter-bot --target-dir target/guests

bin=target/release/appliance
guests=target/guests/wasm32-wasip2/guest
rm -f appliance-data/node.json
"$bin" serve &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 300); do
  [ -f appliance-data/node.json ] && break
  kill -0 "$node_pid" 2>/dev/null || { echo "the node failed to start (see its log above)" >&2; exit 1; }
  sleep 0.1
done

# A demo application key (RFC 8032's first test key). For a real bot use the
# application id and public key from Discord's developer portal.
demo_key=d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a
"$bin" deploy "$guests/ping_bot.wasm" --name ping --app-id 100000000000000001 --public-key "$demo_key"
"$bin" deploy "$guests/counter_bot.wasm" --name counter --app-id 100000000000000002 --public-key "$demo_key"

interaction='{"type":2,"id":"1","application_id":"100000000000000001","token":"demo","data":{"id":"1","name":"ping"},"channel_id":"1","user":{"id":"42","username":"demo"}}'
echo
echo "ping answers:    $(echo "$interaction" | "$bin" invoke ping --json -)"
echo "counter answers: $(echo "${interaction/\"ping\"/\"count\"}" | "$bin" invoke counter --json -)"
cat <<MSG

The node is serving. Try:
  $bin list
  echo '$interaction' | $bin invoke ping --json -
  $bin logs counter
Point a Discord application's Interactions Endpoint URL at https://YOUR-HOST:8443/interactions/APP_ID
after deploying your bot with its real --app-id and --public-key. Ctrl-C stops the node.
MSG
wait "$node_pid"
