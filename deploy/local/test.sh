#!/usr/bin/env bash
# The README's test command: install, start real Kafka and PostgreSQL on 127.0.0.1, run every test.
# Extra arguments go to pytest (e.g. `deploy/local/test.sh tests/unit -x`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash deploy/local/install.sh
bash deploy/local/services.sh start
# shellcheck source=/dev/null
source .local/env.sh
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
