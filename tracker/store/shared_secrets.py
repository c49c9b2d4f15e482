"""Secrets every worker and app node must share (the key that signs dashboard sessions, the
daily salt of IP hashes), made once and kept in ClickHouse.

The first process that needs one makes it under a lock; every other process reads the same
value. A process never invents one of its own when ClickHouse cannot be read: two values
would split logins and visitor ids between workers.
"""
import secrets
import time

from .locks import Lock

COLUMNS = ["name", "value", "created_at"]


def read_secret(store, name):
    """The stored value of ``name`` (the first one made wins), or None."""
    return store.query("SELECT argMin(value, (created_at, value)) FROM app_secrets "
                       "WHERE name = %(name)s HAVING count() > 0", {"name": name}).scalar()


def shared_secret(store, name, make=lambda: secrets.token_hex(32)):
    """The value of secret ``name``, made by ``make()`` if nobody has made it yet."""
    value = read_secret(store, name)
    if value is None:
        with Lock(store, "secrets", ttl=30, wait=60):
            value = read_secret(store, name)
            if value is None:
                store.insert("app_secrets", COLUMNS, [(name, make(), int(time.time()))])
                value = read_secret(store, name)
    return value


def forget_secrets(store, prefix, before):
    """Delete the secrets named ``prefix + X`` with X < ``before`` (old days' salts)."""
    store.delete_where("app_secrets", "startsWith(name, %(prefix)s) AND name < %(cutoff)s",
                       {"prefix": prefix, "cutoff": prefix + before})
