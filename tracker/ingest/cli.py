"""`tracker reclassify --site S [--from DATE]`: stored touchpoints through the current lists."""
import click


@click.command()
@click.option("--site", required=True, help="The site key.")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (UTC) whose month is recomputed; default: all.")
def reclassify(site, since):
    """Recompute channel, source and bot flag of stored touchpoints with the current referrer
    lists and bot patterns, in place, month by month (the overview's figures follow)."""
    from ..cli import _store
    from .reclassify import reclassify as run

    done = run(_store(), site, since.date() if since else None, progress=click.echo)
    click.echo(f"reclassified {len(done)} month(s)" if done else "no touchpoints in that range")
