#!/usr/bin/env bash
# Local S3-compatible server with Object Lock for the S3 sink's tests: moto's standalone server
# (PyPI moto[server], pinned) in its own virtualenv, on 127.0.0.1:19400. It keeps objects in memory
# (a restart empties it) and enforces Object Lock itself: deleting a locked object version is
# refused with AccessDenied (tests/integration/test_s3_object_lock.py proves it).
#
#   deploy/local/s3.sh install|start|stop|restart|status
#
# State lives in <repo>/.local/s3 (git-ignored). See docs/local-services.md.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)

readonly MOTO_VERSION=5.2.5
readonly HOST=127.0.0.1 # loopback only, never anything else
readonly PORT=${ARGUS_LOCAL_S3_PORT:-19400}
readonly S3HOME=$ROOT/.local/s3
readonly VENV=$S3HOME/venv
readonly PID_FILE=$S3HOME/moto.pid
readonly LOG=$S3HOME/moto.log
readonly START_TIMEOUT=30
PYTHON=${PYTHON:-python3}

SERVICE=s3
# shellcheck source=deploy/local/lib.sh
source "$SCRIPT_DIR/lib.sh"

answering() { curl -fsS -o /dev/null --max-time 2 "http://$HOST:$PORT/moto-api/" 2>/dev/null; }

find_pid() { live_pid "$PID_FILE" moto_server; }

cmd_install() {
  if [[ -x $VENV/bin/moto_server ]] && "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')"; then
    return 0
  fi
  say "installing moto[server]==$MOTO_VERSION into $VENV"
  mkdir -p "$S3HOME"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "moto[server]==$MOTO_VERSION"
}

cmd_start() {
  local pid deadline
  cmd_install
  if pid=$(find_pid); then
    say "already running (pid $pid) on $HOST:$PORT"
    return 0
  fi
  mkdir -p "$S3HOME"
  # setsid: the server outlives the calling shell (and CI's step), like Kafka and PostgreSQL.
  setsid "$VENV/bin/moto_server" -H "$HOST" -p "$PORT" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  deadline=$((SECONDS + START_TIMEOUT))
  until answering; do
    find_pid >/dev/null || die "moto exited during start-up; see $LOG"
    ((SECONDS < deadline)) || die "not answering on $HOST:$PORT after ${START_TIMEOUT}s; see $LOG"
    sleep 0.3
  done
  say "running (pid $(<"$PID_FILE")) on http://$HOST:$PORT, log $LOG"
}

cmd_stop() {
  local pid
  if ! pid=$(find_pid); then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  stop_process "$pid" 10
  rm -f "$PID_FILE"
  say "stopped"
}

cmd_status() {
  local pid
  if pid=$(find_pid); then
    if answering; then
      say "running (pid $pid) on http://$HOST:$PORT"
      return 0
    fi
    say "running (pid $pid) but not answering on $HOST:$PORT"
    return 1
  fi
  say "not running"
  return 3
}

dispatch "$@"
