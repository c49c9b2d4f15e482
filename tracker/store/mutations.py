"""Deleting rows: ``ALTER TABLE … DELETE`` mutations, and waiting for them.

A mutation rewrites the parts that hold matching rows, in the background on a ClickHouse server
(18.16 has no ``mutations_sync``): ``wait`` polls ``system.mutations`` until they are done.
"""
import time


def existing_tables(store, names):
    """Those of ``names`` that exist in the store's database (some belong to optional features)."""
    rows = store.query("SELECT name FROM system.tables WHERE database = %(db)s AND name IN %(names)s",
                       {"db": store.database, "names": tuple(names)})
    return {name for (name,) in rows}


def delete(store, table, where, params):
    """Start deleting the rows of ``table`` that match ``where`` (a filter with bound values)."""
    store.delete_where(table, where, params)


def pending(store, tables):
    """How many mutations of ``tables`` are not done yet."""
    return store.pending_mutations(tables)


def wait(store, tables, timeout=60.0):
    """Wait until the mutations of ``tables`` are done; True when they are, False at the timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while pending(store, tables):
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
    return True
