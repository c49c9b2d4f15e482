"""Ingest: the pixel, /collect and the server API; validation, enrichment, hand-off to the writer."""
from dataclasses import dataclass

from ..privacy.blocks import Blocks
from ..store.writer import BatchWriter
from .agents import is_bot
from .counters import Counters
from .geo import GeoLookup, NoGeo, open_geo
from .referrers import load_lists
from .salts import Salts
from .sites import SiteCache
from .touchpoints import COLUMNS


@dataclass
class Ingest:
    """What the ingest endpoints share within one process."""

    sites: SiteCache
    writer: BatchWriter
    salts: Salts
    geo: GeoLookup | NoGeo
    counters: Counters
    blocks: Blocks  # visitor ids of erased people, refused until a new consent

    def close(self):
        """Stop the site refresher and flush the writer; safe to call twice."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.sites.close()
        self.blocks.close()
        self.writer.close()
        self.geo.close()


def start_ingest(store, settings):
    """The site cache, the batch writer, the salts and the lookups of one process."""
    spool_root = settings["data_dir"] / "spool"
    fsync = settings["spool_fsync"]
    blocks = Blocks(store)
    writer = BatchWriter(store, COLUMNS, spool_root / store.database,
                         flush_seconds=settings["flush_seconds"], flush_rows=settings["flush_rows"],
                         fsync=store.kind == "server" if fsync is None else fsync, keep=blocks.unerased)
    sites = SiteCache(store, spool_root / f"{store.database}-sites.json")
    load_lists()  # read the referrer lists and compile the bot patterns now, not in a first request
    is_bot("warm-up")
    return Ingest(sites=sites, writer=writer, salts=Salts(store), geo=open_geo(settings["geoip_db"]),
                  counters=Counters(), blocks=blocks)
