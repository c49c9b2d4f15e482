"""`tracker automation apply FILE --site SITE` and `tracker automation list --site SITE`."""
import json

import click

from ..journeys import definitions as journeys
from ..journeys.cli import load_file
from . import definitions


@click.group()
def automation():
    """Automations: webhooks fired by journey transitions (kept in a repository as JSON or YAML)."""


@automation.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--site", required=True, help="The site key.")
def apply(file, site):
    """Create or replace every automation of FILE ({ID: definition} or [{"id", …}]); nothing is
    stored unless all are valid. A new automation's signing secret is printed once."""
    from ..cli import command_store
    from ..settings import load_settings

    store, allow_private = command_store(), load_settings()["webhook_allow_private"]
    loaded = []
    for automation_id, body in load_file(file, "automations"):
        automation_id = str(automation_id)
        if not journeys.valid_id(automation_id):
            raise click.ClickException(f"{automation_id}: invalid id (letters, digits, '_', '.', '-')")
        try:
            definition, _ = definitions.checked(store, site, body, allow_private)
        except definitions.AutomationError as exc:
            raise click.ClickException(f"{automation_id}: {exc}") from None
        loaded.append((automation_id, definition))
    for automation_id, definition in loaded:
        secret = definitions.save(store, site, automation_id, definition)
        state = "enabled" if definition["enabled"] else "disabled"
        click.echo(f"applied {automation_id} ({state})" + (f"; signing secret {secret} (shown once)" if secret else ""))


@automation.command("list")
@click.option("--site", required=True, help="The site key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(site, as_json):
    """List the site's automations."""
    from ..cli import command_store

    found = [definitions.public(a) for a in definitions.list_all(command_store(), site)]
    if as_json:
        click.echo(json.dumps(found))
        return
    for a in found:
        click.echo(f"{a['id']}  {a['name']}  [{'enabled' if a['enabled'] else 'disabled'}]  journey {a['journey']}  "
                   f"when {json.dumps(a['when'])}  → {a['webhook']['url']}")
