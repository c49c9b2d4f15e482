#!/usr/bin/env bash
# Start a throw-away Redis for the rate limits' shared counters (tests and benchmarks), unless
# one already answers. Installs Debian's package when missing (scripts/system-packages.sh).
#   scripts/redis-server.sh start|stop|status
# Data (none kept: no snapshots, no append-only file), the log and the pid live under
# $REDIS_HOME (default /tmp/tracker-redis); it listens on 127.0.0.1:$REDIS_PORT only.
set -euo pipefail
REDIS_HOME=${REDIS_HOME:-/tmp/tracker-redis}
REDIS_PORT=${REDIS_PORT:-6379}

answers() { (exec 3<>/dev/tcp/127.0.0.1/"$REDIS_PORT") 2>/dev/null; }

start() {
  if answers; then echo "Redis answers on 127.0.0.1:$REDIS_PORT"; return; fi
  "$(dirname "$0")/system-packages.sh" redis
  mkdir -p "$REDIS_HOME"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_HOME" --save "" --appendonly no \
    --daemonize yes --pidfile "$REDIS_HOME/redis.pid" --logfile "$REDIS_HOME/redis.log" --protected-mode yes
  for _ in $(seq 1 50); do
    if answers; then echo "Redis started on 127.0.0.1:$REDIS_PORT ($REDIS_HOME)"; return; fi
    sleep 0.1
  done
  echo "Redis did not start; see $REDIS_HOME/redis.log" >&2
  exit 1
}

stop() {
  [ -f "$REDIS_HOME/redis.pid" ] || return 0
  kill "$(cat "$REDIS_HOME/redis.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do answers || break; sleep 0.1; done
  rm -f "$REDIS_HOME/redis.pid"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) answers && echo up || { echo down; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
