"""``tracker spool``: the segments ClickHouse refused, to inspect and to insert again; and
``tracker reclassify --site S [--from DATE]``: stored touchpoints through the current lists."""
import json
from collections import Counter

import click

from ..store import StoreError
from ..store.spool import Segment, set_aside_segments
from ..store.writer import insert_segment
from .touchpoints import COLUMNS


def _root():
    from ..settings import load_settings

    settings = load_settings()
    return settings, settings["data_dir"] / "spool"


def _segments(names):
    from ..cli import command_store

    store = command_store()
    _, root = _root()
    found = set_aside_segments(root / store.database)
    if names:
        found = [p for p in found if p.name in names or p.stem in names]
    return store, found


@click.group()
def spool():
    """Segments of accepted touchpoints that ClickHouse refused (set aside, never deleted)."""


@spool.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json):
    """Each set-aside segment: its rows per table, and why ClickHouse refused it."""
    _, found = _segments(())
    listed = []
    for path in found:
        segment = Segment.read(path)
        reason = path.with_suffix(".reason")
        listed.append({"segment": path.name, "path": str(path),
                       "rows": dict(Counter(table for table, _ in segment.records)),
                       "reason": reason.read_text() if reason.exists() else ""})
    if as_json:
        click.echo(json.dumps(listed))
        return
    if not listed:
        click.echo("no segment is set aside")
    for item in listed:
        rows = ", ".join(f"{n} {table}" for table, n in item["rows"].items())
        click.echo(f"{item['segment']}  ({rows})\n    {item['reason'] or 'no reason kept'}")


@spool.command("retry")
@click.argument("segments", nargs=-1)
def retry(segments):
    """Insert set-aside segments again (all, or the SEGMENTS named); each that goes in is deleted."""
    store, found = _segments(segments)
    failed = 0
    for path in found:
        segment = Segment.read(path)
        try:
            insert_segment(store, segment.columns or COLUMNS, segment.records)
        except (StoreError, KeyError) as exc:  # report every refusal and go on with the next one
            failed += 1
            click.echo(f"{path.name}: still refused: {str(exc).splitlines()[0]}")
            continue
        path.unlink()
        path.with_suffix(".reason").unlink(missing_ok=True)
        click.echo(f"{path.name}: {len(segment.records)} rows inserted")
    if not found:
        click.echo("no segment is set aside")
    if failed:
        raise click.ClickException(f"{failed} segment(s) still refused; they stay set aside")


@click.command()
@click.option("--site", required=True, help="The site key.")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (UTC) whose month is recomputed; default: all.")
def reclassify(site, since):
    """Recompute channel, source and bot flag of stored touchpoints with the current referrer
    lists and bot patterns, in place, month by month (the overview's figures and journey state
    follow)."""
    from ..cli import command_store
    from .reclassify import reclassify as run

    store = command_store()
    if store.kind == "cluster":
        # Its scratch tables and in-place UPDATE would have to exist and run on every shard.
        raise click.ClickException("tracker reclassify runs on a single server only, not yet on a cluster")
    done = run(store, site, since.date() if since else None, progress=click.echo)
    click.echo(f"reclassified {len(done)} month(s)" if done else "no touchpoints in that range")
