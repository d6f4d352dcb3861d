#!/usr/bin/env bash
# Probe: wrk (50 keep-alive connections, 6 s) while the service gets SIGTERM 2 s in (grace 5 s, so wrk ends inside it).
bin=$1; port=$2
rm -f /tmp/overkill-probe-drain-$port.db*
OVERKILL_LISTEN=127.0.0.1:$port OVERKILL_ADMIN_LISTEN=127.0.0.1:$((port+1)) DATABASE_URL=sqlite:///tmp/overkill-probe-drain-$port.db \
OVERKILL_LOG_LEVEL=error OVERKILL_DRAIN_GRACE_MS=5000 $bin 2>/dev/null &
pid=$!
for i in $(seq 50); do curl -sf localhost:$((port+1))/livez >/dev/null && break; sleep 0.1; done
(sleep 2; kill -TERM $pid) &
wrk -t2 -c50 -d6s http://127.0.0.1:$port/v1/products?limit=1 | grep -E "requests in|Socket errors|Non-2xx"
wait $pid; echo "exit status $?"
