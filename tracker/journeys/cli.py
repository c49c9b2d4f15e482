"""`tracker journey apply FILE --site SITE` and `tracker journey list --site SITE`."""
import json
from pathlib import Path

import click
import yaml

from . import definitions


def load_file(path, kind="journeys"):
    """Definitions of a JSON or YAML file: {"journeys": {ID: def}} / {ID: def} / [{"id", ...}]
    (``kind`` names the top-level key: "journeys", "automations")."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if isinstance(data, dict) and kind in data:
        data = data[kind]
    if isinstance(data, dict):
        return [(jid, body) for jid, body in data.items()]
    if isinstance(data, list) and all(isinstance(j, dict) and "id" in j for j in data):
        return [(j["id"], {k: v for k, v in j.items() if k != "id"}) for j in data]
    raise click.ClickException(f"expected a mapping of id → definition (of {kind}), or a list with 'id' in each")


@click.group()
def journey():
    """Journey definitions (kept in a repository as JSON or YAML)."""


@journey.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--site", required=True, help="The site key.")
def apply(file, site):
    """Create or replace every journey of FILE; nothing is stored unless all are valid."""
    loaded = []
    for journey_id, body in load_file(file):
        if not definitions.valid_id(str(journey_id)):
            raise click.ClickException(f"{journey_id}: invalid id (letters, digits, '_', '.', '-')")
        try:
            loaded.append((str(journey_id), definitions.validate_definition(body)))
        except definitions.DefinitionError as exc:
            raise click.ClickException(f"{journey_id}: {exc}") from None
    from ..cli import command_store  # the command module imports this one

    store = command_store()
    for journey_id, body in loaded:
        definitions.save(store, site, journey_id, body)
        click.echo(f"applied {journey_id} ({len(body['stages'])} stages)")


@journey.command("list")
@click.option("--site", required=True, help="The site key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(site, as_json):
    """List the site's journeys."""
    from ..cli import command_store

    journeys = definitions.list_all(command_store(), site)
    if as_json:
        click.echo(json.dumps(journeys))
        return
    for j in journeys:
        stages = " → ".join(s["name"] for s in j["stages"])
        click.echo(f"{j['id']}  {j['name']}  [{j['order']}, {j['window']['value']} {j['window']['unit']}s]  {stages}")


@journey.command("rebuild")
@click.argument("journey_id")
@click.option("--site", required=True, help="The site key.")
def rebuild(journey_id, site):
    """Compute the journey's state again from all its touchpoints (the journey worker does it
    in the background; reads use the live engine until it is ready)."""
    from ..cli import command_store
    from . import state

    store = command_store()
    found = definitions.request_rebuild(store, site, journey_id)
    if found is None:
        raise click.ClickException(f"no journey {journey_id!r} on site {site!r}")
    click.echo(f"journey {journey_id} will be rebuilt (build {state.build_of(found)}); "
               f"follow it with `tracker worker --status`")
