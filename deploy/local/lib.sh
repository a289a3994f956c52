# Shared by deploy/local's own test servers (rsyslog.sh, s3.sh): messages, the pid-file check,
# stopping, and the command dispatch. Source it after setting SERVICE (the name in messages).
# shellcheck shell=bash

say() { echo "$SERVICE: $*"; }
die() {
  echo "$SERVICE: $*" >&2
  exit 1
}

# The pid in pid file $1, if that process is alive and its command line holds $2 (a stale pid
# file, or a pid reused by another program, is not ours).
live_pid() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && grep -q "$2" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# TERM process $1; KILL it if it still runs after $2 seconds.
stop_process() {
  local deadline=$((SECONDS + $2))
  kill -TERM "$1" 2>/dev/null || true
  while kill -0 "$1" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$1" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
}

# Run the script's cmd_install, cmd_start, cmd_stop or cmd_status; restart is stop then start.
dispatch() {
  case ${1:-} in
    install | start | stop | status) "cmd_$1" ;;
    restart)
      cmd_stop
      cmd_start
      ;;
    *)
      echo "usage: $0 install|start|stop|restart|status" >&2
      exit 2
      ;;
  esac
}
