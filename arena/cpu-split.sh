#!/usr/bin/env bash
# Usage: arena/cpu-split.sh RUST_BINARY [GO_BINARY]. User and kernel CPU per
# request of each twin, at fixed rates over HTTP/1.1: GET one, GET one in USD
# (rate cached) and a list of 50; three rounds, twins interleaved. The service
# runs alone on core 1, PostgreSQL, the FX simulator and the load on core 0, as
# in the arena; utime and stime come from /proc/PID/stat (10 ms ticks over 8 s
# loads). GO_BINARY defaults to the twin build.sh made.
set -u
cd "$(dirname "$0")/.."; source scripts/lib.sh
taskset -pc 0 $$ >/dev/null
declare -A BIN=([rust]=$1 [go]=${2:-arena/go-twin/go-twin})
[ -x target/release/fx-sim ] || cargo build --release -p fx-sim
pg_start; trap 'kill $FX 2>/dev/null; pg_stop' EXIT
taskset -c 0 target/release/fx-sim --listen 127.0.0.1:18089 >/dev/null 2>&1 &
FX=$!
for t in rust go; do "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE split_$t" >/dev/null; done
port=18300
start() { # TWIN
  DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/split_$1" OVERKILL_LISTEN=127.0.0.1:$port \
    OVERKILL_ADMIN_LISTEN=127.0.0.1:$((port+1)) OVERKILL_DB_POOL_SIZE=16 OVERKILL_LOG_LEVEL=warn \
    OVERKILL_DRAIN_GRACE_MS=0 OVERKILL_FX_URL=http://127.0.0.1:18089 taskset -c 1 "${BIN[$1]}" serve >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf localhost:$((port+1))/readyz >/dev/null && return; sleep 0.1; done
  echo "$1 did not become ready" >&2; exit 1
}
for t in rust go; do
  start $t
  for i in $(seq 60); do curl -s localhost:$port/v1/products -H 'content-type: application/json' \
    -d "{\"sku\":\"P-$i\",\"name\":\"Product number $i\",\"description\":\"A fine product\",\"price_minor\":$((i*100)),\"currency\":\"EUR\",\"stock\":10}" >/dev/null; done
  kill $PID; wait $PID 2>/dev/null
done
tck=$(getconf CLK_TCK)
echo "round scenario twin: user / kernel / total µs per request"
for round in 1 2 3; do
  for scenario in "one:/v1/products/1:14000" "fx-hit:/v1/products/1?currency=USD:14000" "list:/v1/products?limit=50:7500"; do
    IFS=: read -r name path rate <<<"$scenario"
    for t in rust go; do
      start $t
      oha -z 2s -q "$rate" --no-tui "http://127.0.0.1:$port$path" >/dev/null 2>&1
      read -r u0 s0 < <(awk '{print $14, $15}' /proc/$PID/stat)
      n=$(oha -z 8s -q "$rate" --no-tui --output-format json "http://127.0.0.1:$port$path" 2>/dev/null |
        python3 -c 'import json, sys; print(sum(json.load(sys.stdin)["statusCodeDistribution"].values()))')
      read -r u1 s1 < <(awk '{print $14, $15}' /proc/$PID/stat)
      python3 -c "u = ($u1 - $u0) / $tck / $n * 1e6; s = ($s1 - $s0) / $tck / $n * 1e6
print(f'$round $name $t: {u:.1f} / {s:.1f} / {u + s:.1f} ($n responses)')"
      kill $PID; wait $PID 2>/dev/null
    done
  done
done
