"""``tracker user``: dashboard accounts from the command line."""
import json

import click


@click.group()
def user():
    """Dashboard accounts (kept in ClickHouse)."""


@user.command("create")
@click.option("--email", required=True, help="The login.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters (prompted when left out).")
@click.option("--site", "sites", multiple=True, required=True, help="A site key the user may see (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create(email, password, sites, as_json):
    """Create an account, or set the password and sites of an existing one."""
    from ..cli import command_store
    from ..store.sites import list_sites
    from .accounts import AccountError, create_user

    store = command_store()
    unknown = sorted(set(sites) - {s["site"] for s in list_sites(store)})
    if unknown:
        raise click.ClickException(f"unknown site(s): {', '.join(unknown)} (see `tracker site list`)")
    try:
        created = create_user(store, email, password, sites)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(created) if as_json else f"user {created['email']} may see {', '.join(created['sites'])}")
