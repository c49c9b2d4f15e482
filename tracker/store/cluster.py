"""A ClickHouse cluster (``TRACKER_CLICKHOUSE_CLUSTER``): the server backend, plus what only a
cluster needs — its hosts, the shard each row belongs to, statements run host by host.

Reads go to the URL's host (its ``alt_hosts`` when it is down) and through the ``Distributed``
tables to every shard: the queries are those of a single node (see ``cluster_schema.py`` for the
tables). Writes go straight to the local table of the row's shard (``insert``), so a write is
complete when it returns (no ``Distributed`` queue on some host's disk), and a shard that is
down fails only its own rows (the batch writer keeps them in its spool, see ``writer.py``).
"""
import re
import time
from collections import defaultdict

from .backend import StoreError, StoreUnavailable
from .cluster_schema import SHARDED, Host, Layout, shard_index
from .server import ServerBackend

# ClickHouse's codes for a shard that cannot take part now: unreachable through a Distributed
# table (ALL_CONNECTION_TRIES_FAILED, NETWORK_ERROR, SOCKET_TIMEOUT, ALL_REPLICAS_ARE_STALE), or a
# replica without its ZooKeeper session, as after a restart (TABLE_IS_READ_ONLY, NO_ZOOKEEPER,
# KEEPER_EXCEPTION, UNKNOWN_STATUS_OF_INSERT). The batch writer waits for these; it sets rows
# aside only when ClickHouse refuses them.
SHARD_DOWN_CODES = {279, 210, 209, 369, 242, 225, 999, 319}
COORDINATOR_SECONDS = 10


class ShardUnavailable(StoreUnavailable):
    """A shard of the cluster does not answer: its rows can be neither read nor written now."""

    public_reason = ("a shard of the database cluster does not answer, so this answer would be "
                     "incomplete; try again shortly")


def discover(store, name):
    """The hosts of cluster ``name`` (shard by shard), as the URL's server knows them."""
    rows = store.query("SELECT shard_num, replica_num, host_address, port, shard_weight FROM system.clusters "
                       "WHERE cluster = %(name)s ORDER BY shard_num, replica_num", {"name": name})
    if not rows:
        raise StoreUnavailable(f"the ClickHouse server knows no cluster {name!r} (TRACKER_CLICKHOUSE_CLUSTER): "
                               f"see remote_servers in its configuration and system.clusters")
    return [Host(*row) for row in rows]


class ClusterBackend(ServerBackend):
    """The server backend for a cluster: same reads, writes routed to shards, per-host DDL."""

    kind = "cluster"

    def __init__(self, url, cluster, **kwargs):
        super().__init__(url, **kwargs)
        self.cluster = cluster
        self._hosts = None
        self._host_stores = {}
        self._coordinator = None  # (when chosen, store)
        # A write through a Distributed table (INSERT … SELECT of a rebuild) returns once every
        # shard has its rows: no queue on the entry host's disk, read-your-writes.
        self.write_settings = {"insert_distributed_sync": 1}

    # -- the cluster -----------------------------------------------------------------

    @property
    def hosts(self):
        if self._hosts is None:
            # system: the store's database may not exist yet (migrations create it on each host)
            entry = ServerBackend(self.url, database="system")
            try:
                self._hosts = discover(entry, self.cluster)
            finally:
                entry.close()
        return self._hosts

    @property
    def shards(self):
        return sorted({host.shard for host in self.hosts})

    @property
    def layout(self):
        replicated = any(host.replica > 1 for host in self.hosts)
        return Layout(self.cluster, self.database, replicated)

    def host(self, host):
        """A plain server backend on one host of the cluster (same database and user)."""
        with self._lock:
            if host not in self._host_stores:
                self._host_stores[host] = ServerBackend(self.url, host=(host.address, host.port))
            return self._host_stores[host]

    def coordinator(self):
        """Where locks live: the first host (the next replica of shard 1 while it is down),
        checked again every ``COORDINATOR_SECONDS``."""
        if self._coordinator and time.monotonic() - self._coordinator[0] < COORDINATOR_SECONDS:
            return self._coordinator[1]
        for host in self.replicas(self.shards[0]):
            if self.host(host).ping():
                self._coordinator = (time.monotonic(), self.host(host))
                return self._coordinator[1]
        raise ShardUnavailable("no replica of the cluster's first shard answers (it holds the locks)")

    def shard_health(self):
        """{shard number: how many of its replicas answer} (for ``/healthz``)."""
        return {shard: sum(1 for host in self.replicas(shard) if self.host(host).ping()) for shard in self.shards}

    def replicas(self, shard):
        return [host for host in self.hosts if host.shard == shard]

    # -- writes --------------------------------------------------------------------

    def parts(self, table, columns, rows):
        """``rows`` split by where they go: {shard number: rows} for a sharded table, {0: rows}
        for a small one (0: the table itself, on the URL's host)."""
        if table not in SHARDED:
            return {0: rows} if rows else {}
        key = columns.index(SHARDED[table])
        weights = [self.replicas(shard)[0].weight for shard in self.shards]
        split = defaultdict(list)
        for row in rows:
            split[self.shards[shard_index(row[key], weights)]].append(row)
        return dict(split)

    def insert_part(self, part, table, columns, rows):
        """Insert one part of ``parts``: into the local table of a replica of that shard (the
        first that answers; replication copies it to the others)."""
        if part == 0:
            return self._insert_small(table, columns, rows)
        local = self.layout.local(table)
        failure = None
        for host in self.replicas(part):
            try:
                return self.host(host).insert(local, columns, rows)
            except StoreError as exc:
                if not shard_down(exc):
                    raise
                failure = exc
        raise ShardUnavailable(f"shard {part} of cluster {self.cluster} does not answer: {failure}")

    def _insert_small(self, table, columns, rows):
        if self.layout.replicated:  # a replica on every host: the URL's host takes it
            return super().insert(table, columns, rows)
        home = self.hosts[0]
        return self.host(home).insert(self.layout.local(table), columns, rows)

    def insert(self, table, columns, rows):
        for part, part_rows in self.parts(table, columns, rows).items():
            self.insert_part(part, table, columns, part_rows)

    def execute(self, sql, params=None, settings=None):
        self._run(sql, params, settings={**(settings or {}), **self.write_settings})

    def _copies(self, table):
        """One host per copy of ``table``'s rows: the first answering replica of each shard (the
        home host alone for a small table on every replica); replication does the rest."""
        if table not in SHARDED and self.layout.replicated:
            return [self.hosts[0]]
        found = []
        for shard in self.shards:
            replicas = self.replicas(shard)
            found.append(next((h for h in replicas if self.host(h).ping()), replicas[0]))
        return found

    def mutate(self, table, action, params=None):
        """The ALTER on each copy of the table's rows (Distributed tables take no mutations)."""
        for host in self._copies(table):
            self.host(host).execute(f"ALTER TABLE `{self.layout.local(table)}` {action}", params)

    def pending_mutations(self, tables):
        return sum(self.host(host).pending_mutations([self.layout.local(t) for t in tables])
                   for host in self.hosts)

    def partitions(self, table):
        return sorted({p for host in self._copies(table) for p in self.host(host).partitions(self.layout.local(table))})

    # -- errors ----------------------------------------------------------------------

    def _run(self, sql, params=None, settings=None, rows=None):
        try:
            return super()._run(sql, params, settings, rows)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if shard_down(exc):
                raise ShardUnavailable(_first_line(str(exc))) from exc
            raise

    def close(self):
        for store in self._host_stores.values():
            store.close()
        super().close()


def shard_down(exc):
    """Whether a StoreError means a shard (or a replica) cannot take part now."""
    return isinstance(exc, StoreUnavailable) or exc.code in SHARD_DOWN_CODES


def _first_line(text):
    return re.split(r"\. |\n", text, maxsplit=1)[0]
