"""Storage: one interface over a ClickHouse server or embedded chDB, migrations, the batch writer."""
from .backend import Backend, Rows, StoreError, StoreUnavailable


def open_store(settings):
    """The backend the settings ask for: the server when a URL is set (over its cluster when one
    is named), else embedded chDB."""
    if settings["clickhouse_url"] and settings["clickhouse_cluster"]:
        from .cluster import ClusterBackend

        store = ClusterBackend(settings["clickhouse_url"], settings["clickhouse_cluster"])
    elif settings["clickhouse_url"]:
        from .server import ServerBackend

        store = ServerBackend(settings["clickhouse_url"])
    else:
        from .embedded import EmbeddedBackend

        settings["data_dir"].mkdir(parents=True, exist_ok=True)
        store = EmbeddedBackend(settings["data_dir"] / "chdb", settings["database"])
    store.query_limits = dict(store.query_limits, max_execution_time=settings["query_seconds"])
    return store


__all__ = ["Backend", "Rows", "StoreError", "StoreUnavailable", "open_store"]
