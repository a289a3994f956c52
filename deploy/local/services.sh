#!/usr/bin/env bash
# Install + start (or stop / inspect) every local service Argus needs, all on 127.0.0.1:
# Kafka 3.9.1 on 19092, PostgreSQL on 55432, and the sinks' test servers: an S3 server with
# Object Lock (moto) on 19400 and rsyslog (RFC 5424 TCP 19601, TLS 19602).
# `start` also writes <repo>/.local/env.sh.
#
#   deploy/local/services.sh start|stop|status
#
# ARGUS_PYTHON selects the interpreter (with confluent-kafka) for Kafka's start-up self test;
# default <repo>/.venv/bin/python. See docs/local-services.md.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
readonly ENV_FILE=$ROOT/.local/env.sh

KAFKA_PORT=${ARGUS_LOCAL_KAFKA_PORT:-19092}
PG_PORT=${ARGUS_LOCAL_PG_PORT:-55432}
S3_PORT=${ARGUS_LOCAL_S3_PORT:-19400}
SYSLOG_PORT=${ARGUS_LOCAL_SYSLOG_PORT:-19601}
ENV_LINES=(
  "export ARGUS_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  "export ARGUS_TEST_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  "export ARGUS_DATABASE_URL=postgresql+psycopg2://argus:argus@127.0.0.1:$PG_PORT/argus"
  "export ARGUS_TEST_DATABASE_URL=postgresql+psycopg2://argus:argus@127.0.0.1:$PG_PORT/argus_test"
  "export ARGUS_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
  "export ARGUS_TEST_SYSLOG_TCP=127.0.0.1:$SYSLOG_PORT"
  "export ARGUS_TEST_SYSLOG_TLS=127.0.0.1:$((SYSLOG_PORT + 1))"
  "export ARGUS_TEST_SYSLOG_RELP=127.0.0.1:$((SYSLOG_PORT + 2))"
  "export ARGUS_TEST_SYSLOG_RELPS=127.0.0.1:$((SYSLOG_PORT + 3))"
  "export ARGUS_TEST_SYSLOG_CA=$ROOT/.local/rsyslog/pki/ca.pem"
  "export ARGUS_TEST_SYSLOG_CLIENT_CERT=$ROOT/.local/rsyslog/pki/client.pem"
  "export ARGUS_TEST_SYSLOG_CLIENT_KEY=$ROOT/.local/rsyslog/pki/client.key"
  "export ARGUS_TEST_SYSLOG_OUT=$ROOT/.local/rsyslog/out"
)

write_env() {
  mkdir -p "$ROOT/.local"
  {
    echo "# Written by deploy/local/services.sh start. Use: . .local/env.sh"
    printf '%s\n' "${ENV_LINES[@]}"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

cmd_start() {
  local pg_out s3_out pg_rc=0 kafka_rc=0 s3_rc=0 syslog_rc=0 started=$SECONDS
  pg_out=$(mktemp)
  s3_out=$(mktemp)
  # PostgreSQL comes up in the background while Kafka (the slow one) starts in the foreground;
  # its output is replayed afterwards so the two don't interleave.
  "$SCRIPT_DIR/postgres.sh" start >"$pg_out" 2>&1 &
  local pg_job=$!
  "$SCRIPT_DIR/s3.sh" start >"$s3_out" 2>&1 &
  local s3_job=$!
  "$SCRIPT_DIR/kafka.sh" start || kafka_rc=$?
  wait "$pg_job" || pg_rc=$?
  wait "$s3_job" || s3_rc=$?
  "$SCRIPT_DIR/rsyslog.sh" start || syslog_rc=$?
  cat "$pg_out" "$s3_out"
  rm -f "$pg_out" "$s3_out"
  if ((pg_rc != 0 || kafka_rc != 0 || s3_rc != 0 || syslog_rc != 0)); then
    echo "services: start FAILED (kafka exit $kafka_rc, postgres exit $pg_rc, s3 exit $s3_rc," \
      "rsyslog exit $syslog_rc); see the messages above" >&2
    exit 1
  fi
  write_env
  echo "services: all up in $((SECONDS - started))s"
  echo "  kafka     PLAINTEXT 127.0.0.1:$KAFKA_PORT (KRaft controller 127.0.0.1:$((KAFKA_PORT + 1))), log $ROOT/.local/kafka/logs/server.log"
  echo "  postgres  127.0.0.1:$PG_PORT, user argus/argus, databases argus + argus_test, log $("$SCRIPT_DIR/postgres.sh" log-path)"
  echo "  s3        http://127.0.0.1:$S3_PORT (moto, Object Lock enforced, in memory), log $ROOT/.local/s3/moto.log"
  echo "  rsyslog   RFC 5424 TCP 127.0.0.1:$SYSLOG_PORT, TLS 127.0.0.1:$((SYSLOG_PORT + 1)), RELP 127.0.0.1:$((SYSLOG_PORT + 2)), RELP+TLS 127.0.0.1:$((SYSLOG_PORT + 3)), received in $ROOT/.local/rsyslog/out"
  echo "services: wrote $ENV_FILE (source it with: . $ENV_FILE)"
  printf '%s\n' "${ENV_LINES[@]}"
}

cmd_stop() {
  local rc=0
  # Stop both even if one fails.
  "$SCRIPT_DIR/kafka.sh" stop || rc=1
  "$SCRIPT_DIR/postgres.sh" stop || rc=1
  "$SCRIPT_DIR/s3.sh" stop || rc=1
  "$SCRIPT_DIR/rsyslog.sh" stop || rc=1
  return "$rc"
}

cmd_status() {
  local rc=0
  "$SCRIPT_DIR/kafka.sh" status || rc=1
  "$SCRIPT_DIR/postgres.sh" status || rc=1
  "$SCRIPT_DIR/s3.sh" status || rc=1
  "$SCRIPT_DIR/rsyslog.sh" status || rc=1
  return "$rc"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
