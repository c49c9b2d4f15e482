"""Ingest: the pixel, /collect and the server API; validation, enrichment, hand-off to the writer."""
from dataclasses import dataclass

from ..privacy.blocks import Blocks
from ..store.writer import BatchWriter
from .salts import Salts
from .sites import SiteCache
from .touchpoints import COLUMNS


@dataclass
class Ingest:
    """What the ingest endpoints share within one process."""

    sites: SiteCache
    writer: BatchWriter
    salts: Salts
    blocks: Blocks  # visitor ids of erased people, refused until a new consent

    def close(self):
        """Stop the site refresher and flush the writer; safe to call twice."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.sites.close()
        self.blocks.close()
        self.writer.close()


def start_ingest(store, settings):
    """The site cache, the batch writer and the salts of one process."""
    spool_root = settings["data_dir"] / "spool"
    fsync = settings["spool_fsync"]
    writer = BatchWriter(store, COLUMNS, spool_root / store.database,
                         flush_seconds=settings["flush_seconds"], flush_rows=settings["flush_rows"],
                         fsync=store.kind == "server" if fsync is None else fsync)
    sites = SiteCache(store, spool_root / f"{store.database}-sites.json")
    return Ingest(sites=sites, writer=writer, salts=Salts(store), blocks=Blocks(store))
