#!/usr/bin/env bash
# Create (or update) the project virtualenv at .venv with the server, the client SDK and dev tools.
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
"$ROOT/.venv/bin/python" -m pip install -q -e "$ROOT/client[kafka]" -e "$ROOT[dev]"
echo "install: virtualenv ready at $ROOT/.venv"
# promtool/prometheus and helm, which tests/unit/test_prometheus_rules.py, test_helm_chart.py and
# tests/integration/test_prometheus.py run for real.
bash "$ROOT/deploy/local/ops-tools.sh"
