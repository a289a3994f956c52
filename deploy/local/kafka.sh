#!/usr/bin/env bash
# Local single-node Apache Kafka 3.9.1 (KRaft, broker+controller in one JVM) on 127.0.0.1.
#
#   deploy/local/kafka.sh install|start|stop|status|reset
#
# install  download the broker jars with Maven (once), generate the cluster id, format storage
# start    install, start the broker in the background, wait until a produce/consume round trip works
# stop     SIGTERM, then SIGKILL after 30 s
# status   exit 0 = running and answering, 1 = running but not answering, 3 = not running
# reset    stop and delete data + logs (jars and cluster id are kept)
#
# State lives in <repo>/.local/kafka (git-ignored). See docs/local-services.md.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)

readonly KAFKA_VERSION=3.9.1
readonly HOST=127.0.0.1 # loopback only, never anything else
# Ports can be moved (e.g. to run a second checkout's services beside these).
readonly PORT=${ARGUS_LOCAL_KAFKA_PORT:-19092}
readonly CONTROLLER_PORT=$((PORT + 1))
readonly START_TIMEOUT=60
readonly STOP_TIMEOUT=30

readonly KHOME=$ROOT/.local/kafka
readonly LIBS=$KHOME/libs
readonly DATA=$KHOME/data
readonly LOGS=$KHOME/logs
readonly SERVER_LOG=$LOGS/server.log
readonly JVM_OUT=$LOGS/kafka.out # JVM stdout/stderr: only crashes land here, log4j writes server.log
readonly PID_FILE=$KHOME/kafka.pid
readonly CLUSTER_ID_FILE=$KHOME/cluster-id
readonly PROPS=$KHOME/server.properties
readonly POM=$SCRIPT_DIR/kafka/pom.xml
readonly PROPS_TEMPLATE=$SCRIPT_DIR/kafka/server.properties.in
readonly LOG4J=$SCRIPT_DIR/kafka/log4j.properties
readonly ROUNDTRIP=$SCRIPT_DIR/kafka_roundtrip.py
PYTHON=${ARGUS_PYTHON:-$ROOT/.venv/bin/python}
LAUNCHED_AT=$SECONDS

# Logging goes to server.log for the tools too (StorageTool), so nothing noisy hits the terminal.
readonly JAVA_LOG_OPTS=("-Dlog4j.configuration=file:$LOG4J" "-Dkafka.logs.dir=$LOGS")

say() { printf 'kafka: %s\n' "$*"; }
die() {
  printf 'kafka: %s\n' "$*" >&2
  exit 1
}

# One clear line, then the evidence.
fail_start() {
  local jvm
  printf 'kafka: %s; log: %s\n' "$1" "$SERVER_LOG" >&2
  if [[ -s $SERVER_LOG ]]; then
    printf -- '--- last 30 lines of %s ---\n' "$SERVER_LOG" >&2
    tail -n 30 "$SERVER_LOG" >&2
  fi
  # JVM-level failures (bad classpath, OOM, crash) never reach log4j: show what the JVM
  # printed since the last launch marker, if anything.
  if [[ -s $JVM_OUT ]]; then
    jvm=$(awk '/^=== /{n=0; next} {a[++n]=$0} END{for(i=1;i<=n;i++) print a[i]}' "$JVM_OUT" | tail -n 10)
    if [[ -n $jvm ]]; then
      printf -- '--- JVM output (%s) ---\n%s\n' "$JVM_OUT" "$jvm" >&2
    fi
  fi
  exit 1
}

# True when something accepts TCP connections on 127.0.0.1:$1 (pure bash, no ss/nc needed).
port_open() { (: <>"/dev/tcp/$HOST/$1") 2>/dev/null; }

port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | awk '{print $NF}' | head -n 1
  fi
}

# Is $1 the pid of *this checkout's* broker? Matching our exact server.properties path
# guards against pid reuse and never touches other Kafkas on the machine.
is_our_kafka() {
  local cmd
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmd == *" kafka.Kafka $PROPS"* ]]
}

find_pid() {
  local pid dir
  if [[ -s $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if is_our_kafka "$pid"; then
      echo "$pid"
      return 0
    fi
  fi
  # Pid file lost or stale (e.g. after kill -9 and a pid reuse): look for our exact command line.
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    if is_our_kafka "$pid"; then
      echo "$pid" >"$PID_FILE"
      echo "$pid"
      return 0
    fi
  done
  return 1
}

require_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH; Kafka $KAFKA_VERSION needs Java 11+ (Debian: apt-get install -y openjdk-17-jre-headless)"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n 1)
  [[ -n $major && $major -ge 11 ]] ||
    die "java on PATH ($(command -v java)) is version '${major:-unknown}'; Kafka $KAFKA_VERSION needs Java 11+"
}

python_ok() { [[ -x $PYTHON ]] && "$PYTHON" -c 'import confluent_kafka' >/dev/null 2>&1; }

require_python() {
  [[ -x $PYTHON ]] ||
    die "no Python at $PYTHON for the start-up self test; create the venv (.venv) or set ARGUS_PYTHON=/path/to/python"
  "$PYTHON" -c 'import confluent_kafka' >/dev/null 2>&1 ||
    die "$PYTHON cannot import confluent_kafka (needed for the start-up self test); install the dev dependencies or set ARGUS_PYTHON"
}

roundtrip() { "$PYTHON" "$ROUNDTRIP" --bootstrap "$HOST:$PORT" --timeout "$1"; }

install_libs() {
  local marker=$LIBS/.installed want tmp mvn_log
  # Re-resolve only when the pom changes; the marker is written last, so a half-finished
  # download never counts as installed.
  want="kafka_2.13-$KAFKA_VERSION pom-sha256=$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f $marker && $(<"$marker") == "$want" ]]; then
    return 0
  fi
  if find_pid >/dev/null; then
    say "jars in $LIBS do not match $POM but the broker is running; run '$0 stop' then '$0 install'"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found on PATH; it is needed once to download the Kafka $KAFKA_VERSION jars (Debian: apt-get install -y maven)"
  say "downloading Kafka $KAFKA_VERSION jars with Maven (one-off) into $LIBS"
  mkdir -p "$KHOME"
  tmp=$KHOME/libs.tmp
  mvn_log=$KHOME/mvn.log
  rm -rf "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime >"$mvn_log" 2>&1; then
    rm -rf "$tmp"
    printf 'kafka: Maven could not download the Kafka %s jars (is Maven Central reachable?); full output: %s\n' \
      "$KAFKA_VERSION" "$mvn_log" >&2
    printf -- '--- last 30 lines of mvn output ---\n' >&2
    tail -n 30 "$mvn_log" | sed 's/\x1b\[[0-9;]*m//g' >&2 # Maven 3.8 emits colour resets even in -B mode
    exit 1
  fi
  if [[ ! -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]]; then
    rm -rf "$tmp"
    die "Maven succeeded but kafka_2.13-$KAFKA_VERSION.jar is not among the copied jars; see $mvn_log"
  fi
  printf '%s\n' "$want" >"$tmp/.installed"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  say "installed $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

ensure_cluster_id() {
  local id
  [[ -s $CLUSTER_ID_FILE ]] && return 0
  mkdir -p "$LOGS"
  id=$(java "${JAVA_LOG_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>>"$JVM_OUT" | tail -n 1)
  [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid printed '$id', not a cluster id; see $JVM_OUT"
  printf '%s\n' "$id" >"$CLUSTER_ID_FILE"
}

render_props() {
  local tpl
  # log.dirs is a comma-separated list and .properties treats '\' as an escape.
  [[ $DATA != *[,\\]* ]] || die "the repo path $ROOT contains ',' or '\\', which Kafka's log.dirs cannot express"
  tpl=$(<"$PROPS_TEMPLATE")
  tpl=${tpl//@KAFKA_DATA_DIR@/$DATA}
  tpl=${tpl//@CONTROLLER_PORT@/$CONTROLLER_PORT}
  printf '%s\n' "${tpl//@PORT@/$PORT}" >"$PROPS.tmp"
  mv "$PROPS.tmp" "$PROPS"
}

format_storage() {
  local out cid
  # meta.properties is what format writes; its presence means "formatted, keep the data".
  [[ -f $DATA/meta.properties ]] && return 0
  cid=$(<"$CLUSTER_ID_FILE")
  mkdir -p "$DATA"
  say "formatting storage in $DATA (cluster id $cid)"
  if ! out=$(java "${JAVA_LOG_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$cid" -c "$PROPS" 2>&1); then
    printf 'kafka: formatting %s failed:\n%s\n' "$DATA" "$out" >&2
    exit 1
  fi
}

cmd_install() {
  require_java
  install_libs
  mkdir -p "$DATA" "$LOGS"
  ensure_cluster_id
  render_props
  format_storage
}

launch() {
  local i
  LAUNCHED_AT=$SECONDS
  mkdir -p "$LOGS"
  # Launch markers make it obvious which run the log tails shown on failure belong to.
  printf '=== %s kafka.sh: starting kafka.Kafka %s\n' "$(date -Is)" "$PROPS" | tee -a "$SERVER_LOG" >>"$JVM_OUT"
  rm -f "$PID_FILE"
  # setsid: own session, so a Ctrl-C in the calling terminal or CI step does not reach the
  # broker. The inner shell writes its own pid and then execs java, so the pid file holds
  # exactly the JVM's pid (whether or not setsid had to fork).
  # shellcheck disable=SC2016 # $$ and $@ are meant for the inner shell
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java -Xms256m -Xmx512m \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "${JAVA_LOG_OPTS[@]}" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$JVM_OUT" 2>&1 </dev/null &
  for ((i = 0; i < 50; i++)); do
    [[ -s $PID_FILE ]] && return 0
    sleep 0.1
  done
  fail_start "launching java failed (no pid file after 5s)"
}

# Bounded wait: first the port (cheap), then a real produce/consume round trip.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) left out
  while ! port_open "$PORT"; do
    find_pid >/dev/null || fail_start "the broker exited during start-up"
    ((SECONDS < deadline)) || fail_start "did not answer on $HOST:$PORT within ${START_TIMEOUT}s"
    sleep 0.5
  done
  while :; do
    left=$((deadline - SECONDS))
    ((left > 30)) && left=30
    ((left < 5)) && left=5
    if out=$(roundtrip "$left" 2>&1); then
      say "$out"
      say "ready on $HOST:$PORT (pid $(find_pid), answered $((SECONDS - LAUNCHED_AT))s after launch)"
      return 0
    fi
    find_pid >/dev/null || fail_start "the broker exited during start-up"
    ((SECONDS < deadline)) ||
      fail_start "did not answer on $HOST:$PORT within ${START_TIMEOUT}s (${out%%$'\n'*})"
    sleep 1
  done
}

cmd_start() {
  local pid port out owner
  require_python # fail fast, before spending time on Maven and the JVM
  if pid=$(find_pid); then
    if out=$(roundtrip 15 2>&1); then
      say "already running (pid $pid) and answering on $HOST:$PORT"
      return 0
    fi
    say "already running (pid $pid) but not answering yet; waiting"
    wait_ready
    return 0
  fi
  for port in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$port"; then
      owner=$(port_owner "$port")
      die "port $HOST:$port is already in use by another process${owner:+ ($owner)}; stop it or free the port"
    fi
  done
  cmd_install
  say "starting Kafka $KAFKA_VERSION on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT)"
  launch
  wait_ready
}

cmd_stop() {
  local pid deadline
  if ! pid=$(find_pid); then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while is_our_kafka "$pid"; do
    if ((SECONDS >= deadline)); then
      say "no clean shutdown after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while is_our_kafka "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
      is_our_kafka "$pid" && die "pid $pid survived SIGKILL"
      break
    fi
    sleep 0.5
  done
  rm -f "$PID_FILE"
  say "stopped"
}

cmd_status() {
  local pid out owner
  if pid=$(find_pid); then
    if ! python_ok; then
      if port_open "$PORT"; then
        say "running (pid $pid), port $HOST:$PORT open (round trip skipped: $PYTHON cannot import confluent_kafka)"
        return 0
      fi
      say "running (pid $pid) but $HOST:$PORT is not open"
      return 1
    fi
    if out=$(roundtrip 15 2>&1); then
      say "running (pid $pid) on $HOST:$PORT, controller $HOST:$CONTROLLER_PORT; $out"
      return 0
    fi
    say "running (pid $pid) but NOT answering on $HOST:$PORT: ${out%%$'\n'*}"
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
  rm -rf "$DATA" "$LOGS" "$PROPS" "$PROPS.tmp"
  say "reset: deleted $DATA and $LOGS (jars and cluster id kept)"
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *)
    echo "usage: $0 install|start|stop|status|reset" >&2
    exit 2
    ;;
esac
