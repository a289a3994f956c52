#!/usr/bin/env bash
# The README's run command: install, start a local Kafka, migrate the embedded SQLite store and run
# the gateway and processor on 127.0.0.1 (Ctrl-C stops them; deploy/local/services.sh stop stops Kafka).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash deploy/local/install.sh
bash deploy/local/kafka.sh start
export ARGUS_KAFKA_BOOTSTRAP="${ARGUS_KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
if [ -z "${ARGUS_AUTH_TOKEN:-}" ] && [ -z "${ARGUS_AUTH_TOKENS:-}" ]; then
  mkdir -p .local
  [ -s .local/dev-token ] || .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(24))" > .local/dev-token
  ARGUS_AUTH_TOKEN="$(cat .local/dev-token)"
  export ARGUS_AUTH_TOKEN
  echo "run: using development token from .local/dev-token: $ARGUS_AUTH_TOKEN"
fi
if [ -z "${ARGUS_LOG_KEY:-}" ]; then
  mkdir -p .local
  # The development log key signs checkpoints (docs/transparency.md); auditors get log.vkey.
  [ -s .local/log.key ] || .venv/bin/argus log-key --name "${ARGUS_LOG_NAME:-argus.local}" --out .local/log.key > .local/log.vkey
  export ARGUS_LOG_KEY="$ROOT/.local/log.key"
  echo "run: checkpoints signed with .local/log.key; verifier key: $(cat .local/log.vkey)"
fi
if [ -z "${ARGUS_RECEIPT_KEY:-}" ]; then
  mkdir -p .local
  # The development receipt key signs ingest receipts and attestations (docs/receipts.md).
  [ -s .local/receipt.key ] || .venv/bin/argus receipt-key --out .local/receipt.key > .local/receipt.vkey
  export ARGUS_RECEIPT_KEY="$ROOT/.local/receipt.key"
  echo "run: receipts signed with .local/receipt.key; verifier key: $(cat .local/receipt.vkey)"
fi
exec .venv/bin/argus run
