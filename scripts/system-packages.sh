#!/usr/bin/env bash
# Install the Debian packages the tests and benchmarks need, once: ClickHouse server
# (18.16, the oldest server we support), Chromium for browser tests, wrk for load tests, Redis
# for the rate limits' shared counters, ZooKeeper for the replicated cluster's tests, nginx in
# front of several app nodes.
#   scripts/system-packages.sh clickhouse chromium wrk redis zookeeper nginx
set -euo pipefail
declare -A binary=([clickhouse]=clickhouse-server [chromium]=chromium [wrk]=wrk [redis]=redis-server
                   [zookeeper]=/usr/share/zookeeper/bin/zkServer.sh [nginx]=nginx)
declare -A packages=([clickhouse]="clickhouse-server clickhouse-client" [chromium]=chromium [wrk]=wrk
                     [redis]=redis-server [zookeeper]=zookeeper [nginx]=nginx)
missing=()
for want in "$@"; do
  command -v "${binary[$want]}" >/dev/null || missing+=(${packages[$want]})
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
