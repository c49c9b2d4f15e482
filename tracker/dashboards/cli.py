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
    from ..store.accounts import AccountError, create_user

    store = command_store()
    unknown = sorted(set(sites) - {s["site"] for s in list_sites(store)})
    if unknown:
        raise click.ClickException(f"unknown site(s): {', '.join(unknown)} (see `tracker site list`)")
    try:
        created = create_user(store, email, password, sites)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(created) if as_json else f"user {created['email']} may see {', '.join(created['sites'])}")


def _change(email, **changes):
    from ..cli import command_store
    from ..store.accounts import AccountError, update_user

    try:
        return update_user(command_store(), email, **changes)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@user.command("sites")
@click.option("--email", required=True, help="The login.")
@click.option("--site", "sites", multiple=True, help="A site key the user may see (repeatable; none: no site).")
def sites_(email, sites):
    """Set the sites of an account; its open sessions see the change on their next request."""
    changed = _change(email, sites=sites)
    click.echo(f"user {changed['email']} may see {', '.join(changed['sites']) or 'no site'}")


@user.command("disable")
@click.option("--email", required=True, help="The login.")
def disable(email):
    """Disable an account: its open sessions end on their next request, and it cannot log in."""
    click.echo(f"user {_change(email, disabled=True)['email']} is disabled")


@user.command("enable")
@click.option("--email", required=True, help="The login.")
def enable(email):
    """Enable a disabled account again."""
    click.echo(f"user {_change(email, disabled=False)['email']} is enabled")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json):
    """Every account with its sites."""
    from ..cli import command_store
    from ..store.accounts import list_users

    users = list_users(command_store())
    if as_json:
        click.echo(json.dumps(users))
        return
    for u in users:
        click.echo(f"{u['email']}  {' '.join(u['sites']) or '(no site)'}{'  [disabled]' if u['disabled'] else ''}")
