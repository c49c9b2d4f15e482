"""How the one set of migration files becomes a cluster's schema: each statement rewritten for
one host of the cluster, mechanically, by the four shapes our migrations use.

On a cluster every table the code names (``events``, ``sites``…) keeps its name, and its rows
live in a *local* table on the hosts:

* **Sharded tables** (``SHARDED`` below: touchpoints, identities, journey state, the
  automations' feed and outbox…): the rows live in
  ``NAME_local`` on every host, spread over the shards by ``halfMD5(KEY)``; ``NAME`` is a
  ``Distributed`` table over them. ``halfMD5`` because Python computes the same number
  (``shard_index``), so the batch writer can send each shard its own rows.
* **Small tables** (everything else: sites, tokens, accounts, definitions, secrets, builds, the
  worker's status): with replicas (and so ZooKeeper) ``NAME`` itself is a replicated table with
  a replica on *every* host, so each node reads them locally; without, their rows live on the
  first shard (``NAME_local``) and ``NAME`` is a ``Distributed`` table that reads them from
  there.

A statement becomes, for one host:

=====================================  ====================================================
``CREATE TABLE t (…) ENGINE = E(a)``   ``CREATE TABLE t_local (…) ENGINE = E(a)`` (or
                                       ``ReplicatedE('/clickhouse/tables/…', '{replica}', a)``),
                                       then ``CREATE TABLE t AS t_local ENGINE = Distributed(…)``
``CREATE MATERIALIZED VIEW v TO t AS   the same view over the local tables (``TO t_local``,
SELECT … FROM s``                      ``FROM s_local``): it fires on the host where the rows
                                       land and writes beside them
``INSERT INTO t SELECT … FROM s``      the same over the local tables: what the view would have
                                       done on that host (run once per replica set, see below)
``ALTER TABLE t ADD COLUMN …``         the same on ``t_local`` (once per replica set), then on
                                       ``t``: the Distributed table needs the column too
``DROP TABLE IF EXISTS t``             ``t`` and ``t_local`` dropped
=====================================  ====================================================

No ``ON CLUSTER``: it needs ZooKeeper even for plain tables; the runner applies the statements
host by host (``migrations.py``) and records each host's migrations on that host.
"""
import hashlib
import re
from dataclasses import dataclass

# Sharded tables and the column whose halfMD5 picks their shard. One visitor's touchpoints,
# identity links and changes stay on one shard; a person's journey state and transitions too,
# so FINAL (which works per shard) sees every version of a person's row. The journey engine
# resolves visitors to people across shards on the node that asks (see DESIGN, storage).
SHARDED = {
    "events": "visitor_id",
    "identities": "visitor_id",
    "identities_by_user": "visitor_id",
    "journey_changes": "visitor_id",
    "persons": "user_id",
    "person_search": "user_id",
    "overview_daily": "site",
    "journey_state": "person",
    "journey_transitions": "person",
    # The sums of journey state (views beside each shard's state): a funnel adds every shard's.
    # The tally names nobody; its rows of one person's shard stay on it, the key only spreads
    # a direct insert.
    "journey_tally": "value",
    "journey_people": "person",
    "journey_people_hours": "site",
    # Automations: the feed (a view over journey_transitions, so beside them) and the outbox by
    # person; a delivery's attempts by its id (they carry no person). The definitions
    # (``automations``) are a small table.
    "automation_feed": "person",
    "automation_outbox": "person",
    "automation_attempts": "delivery_id",
}

_CREATE_TABLE = re.compile(r"^CREATE TABLE (IF NOT EXISTS )?(\w+) \((.*)\)\s*ENGINE = (\w+)\((.*?)\)(.*)$", re.S)
_CREATE_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?(\w+) TO (\w+)\s+AS\s+(.*)$", re.S)
_INSERT_SELECT = re.compile(r"^INSERT INTO (\w+)\s+(SELECT\s.*)$", re.S)
_DROP = re.compile(r"^DROP TABLE IF EXISTS (\w+)$")
_ALTER = re.compile(r"^ALTER TABLE (\w+)\s+(ADD COLUMN\s.*)$", re.S)
_FROM = re.compile(r"\bFROM\s+(\w+)\b")


class UnknownStatement(ValueError):
    """A migration statement of a shape the cluster rewriting does not know."""


@dataclass(frozen=True)
class Host:
    """One server of the cluster, as ``system.clusters`` lists it."""

    shard: int
    replica: int
    address: str
    port: int
    weight: int = 1  # the shard's <weight>: its share of new rows

    @property
    def home(self):
        """The first host: small tables of an unreplicated cluster live on its shard; locks on it."""
        return self.shard == 1 and self.replica == 1


@dataclass(frozen=True)
class Layout:
    """What the rewriting needs to know of the cluster."""

    cluster: str
    database: str
    replicated: bool

    def local(self, table):
        """The name of the table that holds ``table``'s rows on a host."""
        if table in SHARDED or not self.replicated:
            return f"{table}_local"
        return table

    def distributed(self, table):
        """The ``Distributed`` engine over ``table``'s local tables, or None (a small table
        replicated on every host is read where it is)."""
        if table in SHARDED:
            key = f"halfMD5({SHARDED[table]})"
        elif not self.replicated:
            key = "0"  # every row on the first shard
        else:
            return None
        return f"Distributed({self.cluster}, {self.database}, {self.local(table)}, {key})"

    def engine(self, table, name, args):
        """A MergeTree-family engine, replicated when the cluster has replicas: the path in
        ZooKeeper names the shard (every host, for a small table) and the table."""
        if not self.replicated:
            return f"{name}({args})"
        if table in SHARDED:
            path, replica = f"/clickhouse/tables/{{shard}}/{self.database}/{self.local(table)}", "{replica}"
        else:
            path, replica = f"/clickhouse/tables/all/{self.database}/{table}", "{shard}-{replica}"
        replicated_args = ", ".join(a for a in (f"'{path}'", f"'{replica}'", args) if a)
        return f"Replicated{name}({replicated_args})"

    def changes_rows_on(self, table, host):
        """Whether a backfill INSERT into ``table`` or an ALTER of it runs on ``host``: once per
        copy of the rows (replication carries it to the other replicas)."""
        if not self.replicated:
            return True
        return host.home if table not in SHARDED else host.replica == 1


def _local_sources(layout, select):
    return _FROM.sub(lambda m: f"FROM {layout.local(m.group(1))}", select)


def every_statement(migrations, layout, host):
    """Each statement of ``migrations`` for ``host`` (UnknownStatement names one that fits no shape)."""
    return [rewritten for migration in migrations for statement in migration.statements
            for rewritten in for_host(statement, layout, host)]


def for_host(statement, layout, host):
    """The statements that apply ``statement`` to ``host`` (possibly none)."""
    statement = statement.strip()
    if found := _CREATE_TABLE.match(statement):
        if_not, table, columns, engine, args, rest = found.groups()
        if_not = if_not or ""
        local = layout.local(table)
        created = [f"CREATE TABLE {if_not}{local} ({columns}) ENGINE = {layout.engine(table, engine, args)}{rest}"]
        if distributed := layout.distributed(table):
            created.append(f"CREATE TABLE {if_not}{table} AS {local} ENGINE = {distributed}")
        return created
    if found := _CREATE_VIEW.match(statement):
        if_not, view, target, select = found.groups()
        return [f"CREATE MATERIALIZED VIEW {if_not or ''}{view} TO {layout.local(target)} AS "
                f"{_local_sources(layout, select)}"]
    if found := _INSERT_SELECT.match(statement):
        table, select = found.groups()
        if not layout.changes_rows_on(table, host):
            return []
        return [f"INSERT INTO {layout.local(table)} {_local_sources(layout, select)}"]
    if found := _ALTER.match(statement):
        table, change = found.groups()
        local = [f"ALTER TABLE {layout.local(table)} {change}"] if layout.changes_rows_on(table, host) else []
        return local + ([f"ALTER TABLE {table} {change}"] if layout.distributed(table) else [])
    if found := _DROP.match(statement):
        table = found.group(1)
        return [f"DROP TABLE IF EXISTS {table}", f"DROP TABLE IF EXISTS {table}_local"]
    raise UnknownStatement(f"the cluster schema does not know how to apply this statement on a cluster's "
                           f"hosts: write it in one of the shapes listed in tracker/store/cluster_schema.py "
                           f"(CREATE TABLE, CREATE MATERIALIZED VIEW … TO, INSERT INTO … SELECT, "
                           f"ALTER TABLE … ADD COLUMN, DROP TABLE IF EXISTS), or teach it this one. "
                           f"The statement: {' '.join(statement.split())[:300]}")


def shard_index(value, weights):
    """The 0-based shard of a row whose sharding column is ``value``, as a ``Distributed`` table
    picks it: ``halfMD5(column)`` modulo the sum of the shards' ``weights`` (an int: that many
    shards of weight 1), each shard taking as many of those slots as its weight, in order."""
    weights = [1] * weights if isinstance(weights, int) else weights
    slot = int.from_bytes(hashlib.md5(value.encode()).digest()[:8], "big") % sum(weights)
    for index, weight in enumerate(weights):
        if slot < weight:
            return index
        slot -= weight
    raise AssertionError("unreachable: the slot is below the sum of the weights")
