#!/usr/bin/env bash
# Create (or update) the project virtualenv at .venv with the server, the spec package, the client SDK
# and dev tools.
# Idempotent: re-running only installs what changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "install: $PYTHON not found; install Python 3.11+" >&2
  exit 1
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
"$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
"$ROOT/.venv/bin/python" -m pip install -q -e "$ROOT/spec" -e "$ROOT/client[kafka]" -e "$ROOT[dev]"
# argus_native (native/, Rust via PyO3 and maturin): the processor's compiled hot path, cross-checked
# against the Python reference by tests/unit/test_native.py. Needs cargo >= 1.78 (rustup.rs):
# deploy/local/cargo.sh finds one (also at ~/.cargo/bin) or stops with one line naming rustup.
CARGO=$(bash "$ROOT/deploy/local/cargo.sh")
PATH="$(dirname "$CARGO"):$PATH" "$ROOT/.venv/bin/python" -m pip install -q "$ROOT/native"
# The Go toolchain builds tests/vectors (Go standard library only): the signature vectors and the
# reference-client test (tests/integration/test_go_client.py). Debian's golang-go is enough (Go >= 1.19).
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q golang-go >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q golang-go >/dev/null; }
  else
    echo "install: Go not found; the Go interop tests need it (Debian: apt-get install -y golang-go)" >&2
  fi
fi
echo "install: virtualenv ready at $ROOT/.venv"
# promtool/prometheus and helm, which tests/unit/test_prometheus_rules.py, test_helm_chart.py and
# tests/integration/test_prometheus.py run for real.
bash "$ROOT/deploy/local/ops-tools.sh"
