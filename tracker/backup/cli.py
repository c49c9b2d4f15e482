"""``tracker export`` and ``tracker import``: a site's data to a folder, and back into a store."""
import json

import click

from . import BackupError, export_site, import_site


@click.command("export")
@click.option("--site", required=True, help="The site key.")
@click.option("--to", "folder", required=True, type=click.Path(file_okay=False), help="Folder to write.")
def export_command(site, folder):
    """Write a site's touchpoints, people, journeys and settings to FOLDER (JSON lines + manifest)."""
    from ..cli import command_store

    try:
        manifest = export_site(command_store(), site, folder)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({table: entry["rows"] for table, entry in manifest["tables"].items()}))


@click.command("import")
@click.option("--from", "folder", required=True, type=click.Path(exists=True, file_okay=False),
              help="A folder written by `tracker export`.")
def import_command(folder):
    """Insert a folder written by `tracker export` into this store; journey state is rebuilt by the
    journey worker."""
    from ..cli import command_store

    try:
        counts = import_site(command_store(), folder)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(counts))
