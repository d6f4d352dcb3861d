# Shared by scripts/test, scripts/conformance and scripts/contract: find or
# install the PostgreSQL server binaries, nginx and aioquic, run a throwaway
# cluster, start and stop a service or the Frankfurter simulator.

# Prints the directory holding initdb and postgres, installing Debian's
# PostgreSQL server when none is found.
pg_bin_dir() {
  local dir
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "PostgreSQL server not found; installing it from Debian's packages" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$dir"
}

# Prints the path of nginx (a second, independent upstream for the proxy
# tests), installing Debian's nginx-light when it is missing. The package
# must not start a daemon: policy-rc.d refuses every service start while
# it installs.
nginx_bin() {
  local found
  found=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
  if [ -z "$found" ]; then
    echo "nginx not found; installing nginx-light from Debian's packages" >&2
    local policy=/usr/sbin/policy-rc.d created=
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >&2
    [ -n "$created" ] && rm -f "$policy"
    found=/usr/sbin/nginx
  fi
  echo "$found"
}

# The aioquic release the HTTP/3 tests' client (scripts/h3client.py) drives.
AIOQUIC_VERSION=1.7.2

# Prints the python of a virtual environment under target/ that holds
# aioquic $AIOQUIC_VERSION (the HTTP/3 tests' independent client library),
# creating it, or recreating it when it holds another version.
aioquic_python() {
  local venv=${CARGO_TARGET_DIR:-target}/aioquic-venv
  if ! "$venv/bin/python" -c 'import sys, aioquic; sys.exit(aioquic.__version__ != sys.argv[1])' \
    "$AIOQUIC_VERSION" >/dev/null 2>&1; then
    echo "installing aioquic $AIOQUIC_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "aioquic==$AIOQUIC_VERSION" >&2
  fi
  # Absolute, so that tests started from any directory can run it.
  echo "$(cd "$venv/bin" && pwd)/python"
}

# Starts a throwaway cluster on a free port; sets PG_DIR and PG_PORT.
# PostgreSQL refuses to run as root, so as root it runs as `postgres`.
pg_start() {
  local bin run=()
  bin=$(pg_bin_dir)
  PG_BIN=$bin
  PG_DIR=$(mktemp -d /tmp/overkill-ci-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop)
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

# Starts a service in the background (the rest of the arguments, with any
# environment given before them through `env`) and waits until it logs the
# addresses it bound; sets SERVE_PID, SERVE_LISTEN and SERVE_ADMIN. Both
# twins log one JSON line with "message":"listening". Its output goes to the
# file $1. Explicit readiness, bounded to 30 s.
serve_background() {
  local log=$1 line
  shift
  "$@" >"$log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 1 300); do
    grep -q '"listening"' "$log" && break
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then
      cat "$log" >&2
      echo "the service exited before it listened" >&2
      return 1
    fi
    sleep 0.1  # polling the log for readiness, bounded to 30 s
  done
  line=$(grep -m 1 '"listening"' "$log") || { cat "$log" >&2; echo "the service did not listen within 30 s" >&2; return 1; }
  SERVE_LISTEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listen"])' "$line")
  SERVE_ADMIN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin_listen"])' "$line")
}

# Stops the service serve_background started, if it still runs.
serve_stop() {
  if [ -n "${SERVE_PID:-}" ]; then
    kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=
  fi
  return 0
}

# Starts the Frankfurter simulator (crates/fx-sim, built by the caller with
# `cargo build -p fx-sim`) on a free loopback port, logging to $1; the
# remaining arguments are its flags (knobs). Sets FX_SIM_URL and FX_SIM_PID.
fx_sim_start() {
  local log=$1 line
  shift
  "${CARGO_TARGET_DIR:-target}/debug/fx-sim" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  FX_SIM_PID=$!
  for _ in $(seq 1 100); do
    grep -q '"listening"' "$log" && break
    kill -0 "$FX_SIM_PID" 2>/dev/null || { cat "$log" >&2; echo "fx-sim exited before it listened" >&2; return 1; }
    sleep 0.1  # polling the log for readiness, bounded to 10 s
  done
  line=$(grep -m 1 '"listening"' "$log") || { cat "$log" >&2; echo "fx-sim did not listen within 10 s" >&2; return 1; }
  FX_SIM_URL=http://$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listen"])' "$line")
}

# Stops the simulator fx_sim_start started, if it still runs.
fx_sim_stop() {
  if [ -n "${FX_SIM_PID:-}" ]; then
    kill "$FX_SIM_PID" 2>/dev/null && wait "$FX_SIM_PID" 2>/dev/null
    FX_SIM_PID=
  fi
  return 0
}
