#!/usr/bin/env bash
# One command from a fresh clone to a node answering interactions:
# installs the wasm target, builds the node and the example bots, starts the
# node on its embedded defaults (./appliance-data, public HTTPS on 0.0.0.0:8443
# with a self-signed certificate, admin API on 127.0.0.1:8444), deploys the
# `ping` and `counter` examples, sends each a test interaction, and sends
# `ping` a signed interaction over the public HTTPS route as Discord would.
# Ctrl-C stops the node; the data dir (and the deployed bots) stay for next time.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
cargo build --release
# The example bots, built as the tests build them (tests/it/support/guests.rs):
# no DWARF (components 7x smaller, faster to compile at deploy).
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
  cargo build --release --target wasm32-wasip2 -p ping-bot -p counter-bot --target-dir target/guests

bin=target/release/appliance
guests=target/guests/wasm32-wasip2/release
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

# Fails the demo with a message when an answer is missing (a failure inside
# $(...) does not always stop a script under set -e).
need_answer() {
  [ -n "$2" ] || { echo "demo: $1 gave no answer; see the node's log above" >&2; exit 1; }
}

interaction='{"type":2,"id":"1","application_id":"100000000000000001","token":"demo","data":{"id":"1","name":"ping"},"channel_id":"1","user":{"id":"42","username":"demo"}}'
ping_answer=$(echo "$interaction" | "$bin" invoke ping --json -) || ping_answer=
need_answer "appliance invoke ping" "$ping_answer"
counter_answer=$(echo "${interaction/\"ping\"/\"count\"}" | "$bin" invoke counter --json -) || counter_answer=
need_answer "appliance invoke counter" "$counter_answer"

# The same, the way Discord sends it: over the public HTTPS route, signed with
# the application's private key (Ed25519 over timestamp ++ body). The demo key's
# private half is RFC 8032's test seed, as a PKCS#8 PEM for openssl.
demo_dir=target/demo
mkdir -p "$demo_dir"
demo_seed=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
{
  echo "-----BEGIN PRIVATE KEY-----"
  # printf turns the hex into bytes (the DER prefix of an Ed25519 PKCS#8 key, then the seed).
  printf "$(echo "302e020100300506032b657004220420$demo_seed" | sed 's/../\\x&/g')" | base64
  echo "-----END PRIVATE KEY-----"
} > "$demo_dir/app-key.pem"
public_port=$(sed -n 's/.*"public_addr": *"[^"]*:\([0-9]*\)".*/\1/p' appliance-data/node.json)
[ -n "$public_port" ] || { echo "demo: no public address in appliance-data/node.json" >&2; exit 1; }
# Exactly what is printed below for you to repeat.
signed_ping=$(cat <<CMD
ts=\$(date +%s)
body='{"type":2,"id":"'\$(date +%s%N)'","application_id":"100000000000000001","token":"demo","data":{"id":"1","name":"ping"},"channel_id":"1","user":{"id":"42","username":"demo"}}'
printf '%s%s' "\$ts" "\$body" > $demo_dir/message
sig=\$(openssl pkeyutl -sign -rawin -inkey $demo_dir/app-key.pem -in $demo_dir/message | od -An -v -tx1 | tr -d ' \\n')
curl -sSk --fail-with-body https://127.0.0.1:$public_port/interactions/100000000000000001 \\
  -H 'content-type: application/json' -H "x-signature-ed25519: \$sig" -H "x-signature-timestamp: \$ts" \\
  --data-raw "\$body"
CMD
)
signed_answer=$(bash -c "set -euo pipefail; $signed_ping") || signed_answer=
need_answer "the signed HTTPS ping" "$signed_answer"

echo
echo "ping answers:    $ping_answer"
echo "counter answers: $counter_answer"
echo "signed HTTPS ping answers: $signed_answer"
cat <<MSG

The node is serving. Try:
  $bin list
  echo '$interaction' | $bin invoke ping --json -
  $bin logs counter
or send a signed interaction over HTTPS as Discord does (each needs a new id and a current timestamp):
$(sed 's/^/  /' <<<"$signed_ping")
Point a Discord application's Interactions Endpoint URL at https://YOUR-HOST:8443/interactions/APP_ID
after deploying your bot with its real --app-id and --public-key. Ctrl-C stops the node.
MSG
wait "$node_pid"
