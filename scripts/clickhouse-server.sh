#!/usr/bin/env bash
# Start a throw-away ClickHouse server for tests and benchmarks, unless one
# already answers. Installs Debian's package (ClickHouse 18.16) when missing.
#   scripts/clickhouse-server.sh start|stop|status
# Data, logs and the pid live under $CH_HOME (default /tmp/tracker-clickhouse).
set -euo pipefail
CH_HOME=${CH_HOME:-/tmp/tracker-clickhouse}
CH_PORT=${CH_PORT:-9000}
CH_HTTP_PORT=${CH_HTTP_PORT:-8123}

answers() { (exec 3<>/dev/tcp/127.0.0.1/"$CH_PORT") 2>/dev/null; }

install_server() {
  command -v clickhouse-server >/dev/null && return
  if [ "$(id -u)" != 0 ]; then
    echo "clickhouse-server is missing; run as root or: apt-get install -y clickhouse-server clickhouse-client" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

write_config() {
  mkdir -p "$CH_HOME"/{data,tmp,user_files,log}
  cat >"$CH_HOME/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level>
    <log>$CH_HOME/log/server.log</log><errorlog>$CH_HOME/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$CH_PORT</tcp_port>
  <http_port>$CH_HTTP_PORT</http_port>
  <path>$CH_HOME/data/</path>
  <tmp_path>$CH_HOME/tmp/</tmp_path>
  <user_files_path>$CH_HOME/user_files/</user_files_path>
  <users_config>$CH_HOME/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>536870912</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
XML
  cat >"$CH_HOME/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start() {
  if answers; then echo "ClickHouse answers on 127.0.0.1:$CH_PORT"; return; fi
  install_server
  write_config
  clickhouse-server --config-file="$CH_HOME/config.xml" --daemon --pid-file="$CH_HOME/server.pid"
  for _ in $(seq 1 100); do
    if answers; then echo "ClickHouse started on 127.0.0.1:$CH_PORT ($CH_HOME)"; return; fi
    sleep 0.2
  done
  echo "ClickHouse did not start; see $CH_HOME/log/error.log" >&2
  tail -n 20 "$CH_HOME/log/error.log" >&2 || true
  exit 1
}

stop() {
  [ -f "$CH_HOME/server.pid" ] || return 0
  local pid
  pid=$(cat "$CH_HOME/server.pid")
  kill "$pid" 2>/dev/null || true
  # Until the process is gone, not only its port: a new server cannot lock the data folder before.
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$CH_HOME/server.pid"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) answers && echo up || { echo down; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
