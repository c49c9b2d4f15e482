"""``tracker person export|erase|consent``: privacy requests from the command line."""
import getpass
import json

import click


def _actor():
    return "cli:" + getpass.getuser()


@click.group()
def person():
    """A person's data: export it, erase it, or record their new consent (each one audited)."""


@person.command("export")
@click.option("--site", required=True, help="The site key.")
@click.option("--to", "target", type=click.File("w"), default="-", help="File to write (default: print).")
@click.argument("person_id")
def export(site, target, person_id):
    """Every touchpoint, trait, identity and journey stage of PERSON_ID, as JSON."""
    from ..cli import command_store
    from .requests import export_person

    exported = export_person(command_store(), site, person_id, _actor())
    if exported is None:
        raise click.ClickException(f"nothing is known of {person_id!r} on site {site!r}")
    json.dump(exported, target, indent=2, default=str)
    target.write("\n")


@person.command("erase")
@click.option("--site", required=True, help="The site key.")
@click.option("--wait", default=300.0, show_default=True, help="Seconds to wait for ClickHouse's deletions.")
@click.argument("person_id")
def erase(site, wait, person_id):
    """Erase PERSON_ID from every table; their visitor ids are refused until a new consent."""
    from ..cli import command_store
    from .requests import erase_person

    erased = erase_person(command_store(), site, person_id, _actor(), wait)
    click.echo(json.dumps(erased))
    if not erased["done"]:
        raise click.ClickException("ClickHouse is still deleting in the background (see system.mutations)")


@person.command("consent")
@click.option("--site", required=True, help="The site key.")
@click.argument("person_id")
def consent(site, person_id):
    """Record PERSON_ID's new consent: their visitor ids are accepted again."""
    from ..cli import command_store
    from . import audit, blocks

    store = command_store()
    visitors = blocks.consent(store, site, person_id)
    audit.record(store, site, person_id, "consent", _actor(), {"visitor_ids": visitors})
    click.echo(json.dumps({"person": person_id, "visitor_ids": visitors}))
