#!/usr/bin/env bash
# A throw-away ClickHouse cluster on loopback for tests and benchmarks: SHARDS x REPLICAS
# server processes of Debian's clickhouse-server (18.16), each on ports of its own, all
# knowing the cluster "tracker" in their remote_servers. With REPLICAS > 1 a ZooKeeper
# (Debian's `zookeeper`) is started too: ReplicatedMergeTree needs it.
#   scripts/clickhouse-cluster.sh start|stop|status|stop-node N|start-node N
# Node N (1-based, shard by shard) listens on BASE_PORT+N (native), BASE_PORT+100+N (HTTP),
# BASE_PORT+200+N (replication). Everything lives under $CLUSTER_HOME.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARDS=${SHARDS:-2}
REPLICAS=${REPLICAS:-1}
BASE_PORT=${BASE_PORT:-29100}
ZK_PORT=${ZK_PORT:-$((BASE_PORT + 81))}
CLUSTER_HOME=${CLUSTER_HOME:-/tmp/tracker-cluster-${SHARDS}x${REPLICAS}-$BASE_PORT}
NODES=$((SHARDS * REPLICAS))

answers() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

install_packages() {
  local want=(clickhouse)
  [ "$REPLICAS" -gt 1 ] && want+=(zookeeper)
  "$ROOT/scripts/system-packages.sh" "${want[@]}"
}

remote_servers() {
  echo "<remote_servers><tracker>"
  for s in $(seq 1 "$SHARDS"); do
    # internal_replication: a Distributed insert writes one replica, ReplicatedMergeTree the rest.
    echo "<shard><internal_replication>true</internal_replication>"
    for r in $(seq 1 "$REPLICAS"); do
      echo "<replica><host>127.0.0.1</host><port>$((BASE_PORT + (s - 1) * REPLICAS + r))</port></replica>"
    done
    echo "</shard>"
  done
  echo "</tracker></remote_servers>"
}

zookeeper_config() {
  [ "$REPLICAS" -gt 1 ] || return 0
  echo "<zookeeper><node><host>127.0.0.1</host><port>$ZK_PORT</port></node>"
  echo "<session_timeout_ms>6000</session_timeout_ms></zookeeper>"
}

write_node_config() {  # node shard replica
  local n=$1 s=$2 r=$3 home="$CLUSTER_HOME/node$1"
  mkdir -p "$home"/{data,tmp,user_files,log}
  cat >"$home/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level>
    <log>$home/log/server.log</log><errorlog>$home/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$((BASE_PORT + n))</tcp_port>
  <http_port>$((BASE_PORT + 100 + n))</http_port>
  <interserver_http_port>$((BASE_PORT + 200 + n))</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>$home/data/</path>
  <tmp_path>$home/tmp/</tmp_path>
  <user_files_path>$home/user_files/</user_files_path>
  <users_config>$ROOT/scripts/clickhouse-users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <macros><shard>$s</shard><replica>r$r</replica></macros>
  $(remote_servers)
  $(zookeeper_config)
</yandex>
XML
}

# Serving, not only listening: ZooKeeper opens its port before it serves, and a ClickHouse that
# connects then loses the handshake ("Cannot read all data") on its first replicated DDL.
zookeeper_serves() {
  local reply
  reply=$( (exec 3<>/dev/tcp/127.0.0.1/"$ZK_PORT" && echo srvr >&3 && timeout 2 cat <&3) 2>/dev/null || true)
  [[ $reply == *"Zookeeper version"* ]]
}

start_zookeeper() {
  [ "$REPLICAS" -gt 1 ] || return 0
  if ! answers "$ZK_PORT"; then
    mkdir -p "$CLUSTER_HOME/zookeeper/data"
    cat >"$CLUSTER_HOME/zookeeper/zoo.cfg" <<CFG
tickTime=500
dataDir=$CLUSTER_HOME/zookeeper/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
CFG
    # exec: the recorded pid is java's own (stop kills it, not a shell around it).
    (cd "$CLUSTER_HOME/zookeeper" && exec nohup java -Xmx256m -cp "/etc/zookeeper/conf_example:/usr/share/java/*" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$CLUSTER_HOME/zookeeper/zoo.cfg" \
        >"$CLUSTER_HOME/zookeeper/zookeeper.log" 2>&1) &
    echo $! >"$CLUSTER_HOME/zookeeper/pid"
  fi
  for _ in $(seq 1 300); do zookeeper_serves && return 0; sleep 0.2; done
  echo "ZooKeeper did not start serving on port $ZK_PORT; see $CLUSTER_HOME/zookeeper/zookeeper.log" >&2
  exit 1
}

stop_zookeeper() {
  local pidfile="$CLUSTER_HOME/zookeeper/pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

node_shard() { echo $(( ($1 - 1) / REPLICAS + 1 )); }
node_replica() { echo $(( ($1 - 1) % REPLICAS + 1 )); }

start_node() {
  local n=$1 port=$((BASE_PORT + $1))
  answers "$port" && return 0
  write_node_config "$n" "$(node_shard "$n")" "$(node_replica "$n")"
  clickhouse-server --config-file="$CLUSTER_HOME/node$n/config.xml" --daemon \
    --pid-file="$CLUSTER_HOME/node$n/server.pid"
}

wait_node() {
  local n=$1
  for _ in $(seq 1 150); do answers $((BASE_PORT + n)) && return 0; sleep 0.2; done
  echo "ClickHouse node $n did not start; see $CLUSTER_HOME/node$n/log/error.log" >&2
  tail -n 20 "$CLUSTER_HOME/node$n/log/error.log" >&2 || true
  exit 1
}

stop_node() {
  local pidfile="$CLUSTER_HOME/node$1/server.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  # Until the process is gone, not only its port: a new server refuses a folder still locked.
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

start() {
  install_packages
  start_zookeeper
  for n in $(seq 1 "$NODES"); do start_node "$n"; done
  for n in $(seq 1 "$NODES"); do wait_node "$n"; done
  echo "ClickHouse cluster 'tracker' ($SHARDS shards x $REPLICAS replicas) on 127.0.0.1:$((BASE_PORT + 1))-$((BASE_PORT + NODES)) ($CLUSTER_HOME)"
}

stop() {
  for n in $(seq 1 "$NODES"); do stop_node "$n" & done
  wait
  stop_zookeeper
}

status() {
  local down=0
  for n in $(seq 1 "$NODES"); do answers $((BASE_PORT + n)) || down=1; done
  [ $down = 0 ] && echo up || { echo down; exit 1; }
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  stop-node) stop_node "$2" ;;
  start-node) start_node "$2"; wait_node "$2" ;;
  *) echo "usage: $0 start|stop|status|stop-node N|start-node N" >&2; exit 2 ;;
esac
