"""A ClickHouse server reached with clickhouse-driver's native protocol."""
import contextlib
import threading
from urllib.parse import parse_qs, unquote, urlparse

from clickhouse_driver import Client, errors

from .backend import Backend, Rows, StoreError, StoreUnavailable, bind, to_epoch

_NETWORK_ERRORS = (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError)


def client_kwargs(url):
    """clickhouse-driver arguments from ``clickhouse://user:pass@host:port/db``."""
    parts = urlparse(url)
    kwargs = {
        "host": parts.hostname,
        "port": parts.port or 9000,
        "user": unquote(parts.username or "default"),
        "password": unquote(parts.password or ""),
        "database": (parts.path or "/").lstrip("/") or "default",
    }
    # ?alt_hosts=host:port,host:port — where clickhouse-driver turns when the host is down
    # (the other replicas of a cluster).
    alt_hosts = parse_qs(parts.query).get("alt_hosts")
    if alt_hosts:
        kwargs["alt_hosts"] = alt_hosts[0]
    return kwargs


class ServerBackend(Backend):
    """One clickhouse-driver client per thread: a client is not thread-safe."""

    kind = "server"

    def __init__(self, url, connect_timeout=3, send_receive_timeout=60, host=None, database=None):
        """``host``: (address, port) to reach instead of the URL's (one host of a cluster);
        ``database``: another than the URL's."""
        self.url = url
        self._kwargs = client_kwargs(url)
        if database:
            self._kwargs["database"] = database
        if host is not None:
            self._kwargs.update(host=host[0], port=host[1])
            self._kwargs.pop("alt_hosts", None)
        self._kwargs.update(connect_timeout=connect_timeout, send_receive_timeout=send_receive_timeout)
        self.database = self._kwargs["database"]
        self._local = threading.local()
        self._clients = []
        self._lock = threading.Lock()

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = Client(**self._kwargs, settings={"strings_encoding": "utf-8"})
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _run(self, sql, params=None, settings=None, rows=None):
        client = self._client()
        try:
            with self._waiting(client, settings):
                if rows is not None:
                    return client.execute(sql, rows, settings=settings)
                tables = []

                def apart(name, members):  # sent beside the query, not parsed in it
                    tables.append(members.table(f"_members_{name}"))
                    return tables[-1]["name"]

                return client.execute(bind(sql, params, apart), settings=settings, with_column_types=True,
                                      external_tables=tables or None)
        except _NETWORK_ERRORS as exc:
            client.disconnect()
            raise StoreUnavailable(f"ClickHouse at {self._kwargs['host']}:{self._kwargs['port']} "
                                   f"does not answer: {exc}") from exc
        except errors.Error as exc:
            client.disconnect()
            raise StoreError(str(exc).split("Stack trace")[0].strip()) from exc

    def _waiting(self, client, settings):
        """A statement allowed to run longer than the socket waits (a rebuild's INSERT SELECT,
        which sends nothing until done) is waited for as long as it may run."""
        allowed = (settings or {}).get("max_execution_time", 0)
        if allowed <= self._kwargs["send_receive_timeout"]:
            return contextlib.nullcontext()
        if not client.connection.connected:  # the socket whose timeout is set must exist
            client.connection.connect()
        return client.connection.timeout_setter(allowed + self._kwargs["send_receive_timeout"])

    def _query(self, sql, params=None, settings=None):
        data, types = self._run(sql, params, self.limited(settings))
        columns = [name for name, _ in types]
        time_columns = [i for i, (_, kind) in enumerate(types) if kind.startswith("DateTime")]
        if time_columns:
            data = [tuple(to_epoch(v) if i in time_columns else v for i, v in enumerate(row)) for row in data]
        return Rows(data, columns)

    def execute(self, sql, params=None, settings=None):
        self._run(sql, params, settings)

    def insert(self, table, columns, rows):
        if rows:
            self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", rows=rows)

    def create_database(self):
        """Create the URL's database; connects without it, since it may not exist yet."""
        kwargs = dict(self._kwargs, database="default")
        client = Client(**kwargs)
        try:
            client.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        except _NETWORK_ERRORS as exc:
            raise StoreUnavailable(f"ClickHouse does not answer: {exc}") from exc
        finally:
            client.disconnect()

    def close(self):
        with self._lock:
            for client in self._clients:
                client.disconnect()
            self._clients.clear()
        self._local = threading.local()
