#!/usr/bin/env bash
# Usage: arena/profile.sh NAME BINARY PORT [PATH]. A perf (cpu-clock) profile of one twin serving
# GET PATH (default: a list of 50) over HTTP/1.1 at a fixed 5000 req/s.
set -u
cd "$(dirname "$0")/.."; source scripts/lib.sh
# PostgreSQL and the load on core 0, as in the arena; the service alone on core 1.
taskset -pc 0 $$ >/dev/null
name=$1; bin=$2; port=$3; path=${4:-/v1/products?limit=50}
pg_start; trap pg_stop EXIT
"$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE prof' >/dev/null
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/prof" OVERKILL_LISTEN=127.0.0.1:$port OVERKILL_ADMIN_LISTEN=127.0.0.1:$((port+1)) \
  OVERKILL_LOG_LEVEL=warn OVERKILL_DRAIN_GRACE_MS=0 taskset -c 1 $bin serve 2>/dev/null &
pid=$!
for i in $(seq 100); do curl -sf localhost:$((port+1))/readyz >/dev/null && break; sleep 0.1; done
for i in $(seq 60); do curl -s localhost:$port/v1/products -H 'content-type: application/json' \
  -d "{\"sku\":\"P-$i\",\"name\":\"Product number $i\",\"description\":\"A fine product\",\"price_minor\":$((i*100)),\"currency\":\"EUR\",\"stock\":10}" >/dev/null; done
taskset -c 0 oha -q 5000 -z 12s --no-tui "http://127.0.0.1:$port$path" >/dev/null &
sleep 3
perf record -e cpu-clock -F 2000 -g -p $pid -o /tmp/overkill-perf-$name.data -- sleep 6 2>/dev/null >/dev/null
wait %2 2>/dev/null
kill $pid; wait $pid 2>/dev/null
perf report -i /tmp/overkill-perf-$name.data --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | grep "%" | head -40 > /tmp/overkill-perf-$name.txt
