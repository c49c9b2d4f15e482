"""Storage: one interface over a ClickHouse server or embedded chDB, migrations, the batch writer."""
from .backend import Backend, Rows, StoreError, StoreUnavailable


def open_store(settings):
    """The backend the settings ask for: the server when a URL is set, else embedded chDB."""
    if settings["clickhouse_url"]:
        from .server import ServerBackend

        return ServerBackend(settings["clickhouse_url"])
    from .embedded import EmbeddedBackend

    settings["data_dir"].mkdir(parents=True, exist_ok=True)
    return EmbeddedBackend(settings["data_dir"] / "chdb", settings["database"])


__all__ = ["Backend", "Rows", "StoreError", "StoreUnavailable", "open_store"]
