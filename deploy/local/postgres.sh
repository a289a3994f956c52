#!/usr/bin/env bash
# Local PostgreSQL cluster for Argus on 127.0.0.1:55432, separate from any system cluster.
#
#   deploy/local/postgres.sh install|start|stop|status|reset|log-path
#
# install  apt-get install postgresql if no server binaries exist (root only), initdb once
# start    install, start, create role argus/argus + databases argus and argus_test,
#          wait until `SELECT 1` works over TCP as argus
# stop     fast shutdown, then immediate, then SIGKILL
# status   exit 0 = running and answering, 1 = running but not answering, 3 = not running
# reset    stop and delete the cluster (data + logs)
# log-path print the server log's path (the cluster may live outside the checkout, see below)
#
# As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
# State lives in <repo>/.local/postgres (git-ignored). See docs/local-services.md.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)

readonly HOST=127.0.0.1 # loopback only, never anything else
readonly PORT=${ARGUS_LOCAL_PG_PORT:-55432}
readonly DB_USER=argus
readonly DB_PASSWORD=argus
readonly DATABASES=(argus argus_test)
readonly START_TIMEOUT=30
readonly STOP_TIMEOUT=30

# The server runs as the unprivileged `postgres` user when we are root. If the checkout sits
# below a directory others cannot enter (e.g. a 0700 /root), keep the cluster outside it in a
# folder derived from the checkout path instead of loosening the home directory's permissions.
others_can_reach() {
  local dir=$1
  while [[ $dir != / && -n $dir ]]; do
    (((8#$(stat -c %a "$dir")) & 1)) || return 1 # others' execute bit (also set under a sticky `t`, as on /tmp)
    dir=$(dirname "$dir")
  done
}
if ((EUID == 0)) && ! others_can_reach "$ROOT"; then
  PGHOME=/var/lib/argus-local/postgres-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
else
  PGHOME=$ROOT/.local/postgres
fi
readonly PGHOME
readonly DATA=$PGHOME/data
readonly LOG_DIR=$PGHOME/log
readonly LOG=$LOG_DIR/postgres.log

# Unix socket paths are limited to 107 bytes; deep CI checkouts fall back to /tmp.
SOCK_DIR=$PGHOME/run
if ((${#SOCK_DIR} + 16 > 107)); then
  SOCK_DIR=/tmp/argus-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
fi
readonly SOCK_DIR

if ((EUID == 0)); then
  RUN_AS=(runuser -u postgres --)
  PG_OWNER=postgres
else
  RUN_AS=()
  PG_OWNER=$(id -un)
fi
PG_BIN=

say() { printf 'postgres: %s\n' "$*"; }
die() {
  printf 'postgres: %s\n' "$*" >&2
  exit 1
}

# One clear line, then the evidence.
fail_with_log() {
  local msg=$1 log=${2:-$LOG}
  printf 'postgres: %s; log: %s\n' "$msg" "$log" >&2
  if [[ -s $log ]]; then
    printf -- '--- last 30 lines of %s ---\n' "$log" >&2
    tail -n 30 "$log" >&2
  fi
  exit 1
}

# Run a server-side binary as the cluster owner. `cd /` avoids "could not change
# directory to /root" noise when root's cwd is not readable by postgres.
as_pg() { (cd / && "${RUN_AS[@]}" "$@"); }

port_open() { (: <>"/dev/tcp/$HOST/$1") 2>/dev/null; }

port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | awk '{print $NF}' | head -n 1
  fi
}

# Pid of *this checkout's* postmaster, if running. Checking the command line (which
# contains our data dir) guards against a stale postmaster.pid whose pid got reused.
pg_pid() {
  local pid cmd
  [[ -f $DATA/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *postgres*"$DATA"* ]] || return 1
  echo "$pid"
}

# Use the major version that created the data dir; otherwise the newest installed.
find_pg_bin() {
  local version candidates
  if [[ -f $DATA/PG_VERSION ]]; then
    version=$(<"$DATA/PG_VERSION")
    [[ -x /usr/lib/postgresql/$version/bin/postgres ]] ||
      die "$DATA was created by PostgreSQL $version but /usr/lib/postgresql/$version/bin is missing; install postgresql-$version or run '$0 reset'"
    PG_BIN=/usr/lib/postgresql/$version/bin
    return 0
  fi
  shopt -s nullglob
  candidates=(/usr/lib/postgresql/*/bin/initdb)
  shopt -u nullglob
  ((${#candidates[@]})) || return 1
  PG_BIN=$(dirname -- "$(printf '%s\n' "${candidates[@]}" | sort -V | tail -n 1)")
}

install_binaries() {
  local apt_log=$PGHOME/apt.log
  find_pg_bin && return 0
  ((EUID == 0)) ||
    die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); install them with: sudo apt-get install -y postgresql"
  command -v apt-get >/dev/null 2>&1 ||
    die "PostgreSQL server binaries not found and apt-get is unavailable; install PostgreSQL 15 server packages"
  mkdir -p "$PGHOME"
  say "server binaries missing; running apt-get update && apt-get install -y postgresql (log: $apt_log)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >"$apt_log" 2>&1; then
    fail_with_log "apt-get install postgresql failed" "$apt_log"
  fi
  find_pg_bin || fail_with_log "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists" "$apt_log"
}

# Create the state dirs owned by the server user and make sure it can actually reach them.
prepare_dirs() {
  local dir part parts
  mkdir -p "$PGHOME" "$LOG_DIR" "$SOCK_DIR"
  if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 ||
      die "system user 'postgres' does not exist (the Debian postgresql package creates it); cannot run the server as root"
    [[ $PGHOME == "$ROOT"/* ]] && chmod 755 "$ROOT/.local"
    chown "$PG_OWNER:" "$PGHOME" "$LOG_DIR" "$SOCK_DIR"
    chmod 700 "$SOCK_DIR"
    if ! as_pg test -w "$PGHOME"; then
      # Typically the checkout sits under a 0700 home directory such as /root: name the
      # first directory (walking down from /) that the server user cannot enter.
      dir=
      IFS=/ read -ra parts <<<"${PGHOME#/}"
      for part in "${parts[@]}"; do
        dir+=/$part
        if ! as_pg test -x "$dir"; then break; fi
      done
      die "the postgres user cannot reach $PGHOME because $dir is not searchable by others; run 'chmod o+x $dir' or clone the repo elsewhere"
    fi
  fi
}

init_cluster() {
  local initdb_log=$LOG_DIR/initdb.log
  [[ -f $DATA/PG_VERSION ]] && return 0
  if [[ -d $DATA ]] && [[ -n $(ls -A "$DATA") ]]; then
    die "$DATA exists but is not a PostgreSQL data directory; run '$0 reset'"
  fi
  mkdir -p "$DATA"
  chown "$PG_OWNER:" "$DATA"
  chmod 700 "$DATA"
  say "initialising a new cluster in $DATA ($("$PG_BIN/postgres" --version))"
  # Local (socket) connections: trust is safe because the socket directory is 0700 and owned
  # by the server user. TCP: passwords only (scram).
  if ! as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$initdb_log" 2>&1; then
    fail_with_log "initdb failed" "$initdb_log"
  fi
  # Our settings live in argus.conf, rewritten on every start, so they follow the checkout.
  printf "\ninclude_if_exists = 'argus.conf'\n" >>"$DATA/postgresql.conf"
}

write_conf() {
  local conf=$DATA/argus.conf compression=on
  # lz4 is cheaper than the default pglz; before PostgreSQL 15 the setting was only on/off.
  if (($(<"$DATA/PG_VERSION") >= 15)); then compression=lz4; fi
  cat >"$conf.tmp" <<EOF
# Written by deploy/local/postgres.sh on every start; change that script, not this file.
port = $PORT
listen_addresses = '$HOST'
unix_socket_directories = '${SOCK_DIR//\'/\'\'}'
max_connections = 200
# Durability is under test: keep every safety on.
fsync = on
synchronous_commit = on
full_page_writes = on
# Sizing, as docs/operations.md advises (issue 16, "Cost grows with the table" in docs/benchmarks.md):
# shared_buffers holds the indexes' hot pages of the bench's 10,000,000-row table (one leaf per
# target in ix_audit_records_target_id_event_time, one per actor in the actor indexes), so a row
# no longer reads a page back and evicts a dirty one; fewer checkpoints and compressed full-page
# images cut the WAL per row. 4 GB is a sixth of the 24 GiB dev box; none of this weakens durability.
shared_buffers = 4GB
max_wal_size = 8GB
checkpoint_timeout = 15min
wal_compression = $compression
# stderr goes to the file given to pg_ctl -l.
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  chown "$PG_OWNER:" "$conf.tmp"
  mv "$conf.tmp" "$conf"
}

cmd_install() {
  install_binaries
  prepare_dirs
  init_cluster
  write_conf
}

select1() {
  local out
  out=$(PGPASSWORD=$DB_PASSWORD PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -qtA \
    -h "$HOST" -p "$PORT" -U "$DB_USER" -d "${DATABASES[0]}" -c 'SELECT 1' 2>&1) || {
    LAST_ERROR=${out%%$'\n'*}
    return 1
  }
  [[ $out == 1 ]]
}

# Idempotent: safe on every start, and repairs a dropped role/database.
bootstrap_roles() {
  local db sql
  sql="SELECT 'CREATE ROLE $DB_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER')\\gexec
ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';"
  for db in "${DATABASES[@]}"; do
    sql+="
SELECT 'CREATE DATABASE $db OWNER $DB_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db')\\gexec"
  done
  printf '%s\n' "$sql" | as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres >/dev/null ||
    fail_with_log "creating role $DB_USER / databases ${DATABASES[*]} failed"
}

# Processes still tied to our data dir although no live postmaster owns it: a kill -9'd
# postmaster not yet reaped (zombie) and its children, which need a moment to notice.
# Starting before they are gone makes postgres refuse ("lock file already exists" /
# "pre-existing shared memory block is still in use"). Backends chdir into the data dir,
# so /proc/<pid>/cwd identifies exactly ours.
leftover_pids() {
  local dir old stat='' state
  for dir in /proc/[0-9]*; do
    if [[ $(readlink "$dir/cwd" 2>/dev/null) == "$DATA" ]]; then echo "${dir#/proc/}"; fi
  done
  if [[ -f $DATA/postmaster.pid ]]; then
    old=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null) || old=
    if [[ $old =~ ^[0-9]+$ ]] && read -r stat 2>/dev/null <"/proc/$old/stat"; then
      state=${stat##*) }
      if [[ ${state%% *} == Z ]]; then echo "$old"; fi
    fi
  fi
  return 0
}

wait_for_leftovers() {
  local pids
  pids=$(leftover_pids)
  [[ -z $pids ]] && return 0
  say "waiting for processes of a previous, killed server to exit: ${pids//$'\n'/ }"
  while [[ -n $(leftover_pids) ]]; do
    ((SECONDS < DEADLINE)) ||
      die "processes of a previous server still use $DATA after ${START_TIMEOUT}s (pids: $(leftover_pids | tr '\n' ' ')); stop them and retry"
    sleep 0.3
  done
}

# Bounded wait: socket up (recovery done), roles in place, then SELECT 1 over TCP as argus.
wait_ready() {
  LAST_ERROR=
  until as_pg "$PG_BIN/pg_isready" -q -h "$SOCK_DIR" -p "$PORT"; do
    pg_pid >/dev/null || fail_with_log "the server exited during start-up"
    ((SECONDS < DEADLINE)) || fail_with_log "did not answer on $HOST:$PORT within ${START_TIMEOUT}s"
    sleep 0.3
  done
  bootstrap_roles
  until select1; do
    ((SECONDS < DEADLINE)) ||
      fail_with_log "did not answer SELECT 1 as $DB_USER on $HOST:$PORT within ${START_TIMEOUT}s (${LAST_ERROR})"
    sleep 0.3
  done
}

cmd_start() {
  local pid owner launched left
  if pid=$(pg_pid); then
    find_pg_bin
    if select1; then
      say "already running (pid $pid) and answering on $HOST:$PORT"
      return 0
    fi
    say "already running (pid $pid) but not answering yet; waiting"
    DEADLINE=$((SECONDS + START_TIMEOUT))
    wait_ready
    say "ready on $HOST:$PORT (pid $pid)"
    return 0
  fi
  if port_open "$PORT"; then
    owner=$(port_owner "$PORT")
    die "port $HOST:$PORT is already in use by another process${owner:+ ($owner)}; stop it or free the port"
  fi
  cmd_install
  DEADLINE=$((SECONDS + START_TIMEOUT))
  wait_for_leftovers
  say "starting on $HOST:$PORT (data $DATA)"
  launched=$SECONDS
  left=$((DEADLINE - SECONDS))
  ((left < 5)) && left=5
  # pg_ctl -w knows which postmaster it launched (a stale postmaster.pid can't fool it) and
  # returns once that one accepts connections, crash recovery included.
  if ! as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$left" start >/dev/null 2>&1; then
    if pg_pid >/dev/null; then
      fail_with_log "did not answer on $HOST:$PORT within ${START_TIMEOUT}s"
    fi
    fail_with_log "the server failed to start"
  fi
  wait_ready
  say "ready on $HOST:$PORT (pid $(pg_pid), databases ${DATABASES[*]}, user $DB_USER; answered $((SECONDS - launched))s after launch)"
}

cmd_stop() {
  local pid deadline
  if ! pid=$(pg_pid); then
    say "not running"
    return 0
  fi
  find_pg_bin
  say "stopping (pid $pid)"
  # fast = roll back open transactions and shut down cleanly (checkpoint).
  if as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1; then
    say "stopped"
    return 0
  fi
  say "no clean shutdown after ${STOP_TIMEOUT}s; immediate shutdown (crash recovery on next start)"
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  if pg_pid >/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while pg_pid >/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    pg_pid >/dev/null && die "postmaster $pid survived SIGKILL"
  fi
  say "stopped"
}

cmd_status() {
  local pid owner
  if pid=$(pg_pid); then
    find_pg_bin
    if select1; then
      say "running (pid $pid) on $HOST:$PORT; SELECT 1 as $DB_USER ok (databases ${DATABASES[*]})"
      return 0
    fi
    say "running (pid $pid) but NOT answering on $HOST:$PORT: $LAST_ERROR"
    return 1
  fi
  if port_open "$PORT"; then
    owner=$(port_owner "$PORT")
    say "not running (but $HOST:$PORT is in use by another process${owner:+: $owner})"
  else
    say "not running"
  fi
  return 3
}

cmd_reset() {
  cmd_stop
  rm -rf "$PGHOME"
  [[ $SOCK_DIR == /tmp/argus-pg-* ]] && rm -rf "$SOCK_DIR"
  say "reset: deleted $PGHOME"
}

LAST_ERROR=
DEADLINE=0
case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  log-path) echo "$LOG" ;;
  *)
    echo "usage: $0 install|start|stop|status|reset|log-path" >&2
    exit 2
    ;;
esac
