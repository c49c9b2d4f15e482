"""The ``tracker`` command: migrate, sites, tokens, serving, the email pixel URL."""
import json
import os
import subprocess
import sys

import click

from .settings import SettingsError, describe, load_settings


def command_store(migrated=True):
    """The store the settings name, for a command (migrated first, unless asked not to); a bad
    setting or an unreachable ClickHouse ends the command with its sentence."""
    from .store import StoreError, open_store
    from .store.migrations import migrate

    try:
        store = open_store(load_settings())
        if migrated:
            migrate(store)
    except (SettingsError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    return store


def _print(payload, as_json, text):
    click.echo(json.dumps(payload) if as_json else text)


@click.group()
def main():
    """Touchpoint tracking and customer-journey analytics. Settings come from TRACKER_* variables."""


@main.command()
def settings():
    """List every setting with its default and meaning."""
    click.echo(describe())


@main.command()
def migrate():
    """Apply the migrations that are missing (start-up does this too)."""
    from .store import StoreError
    from .store.migrations import migrate as run

    try:
        applied = run(command_store(migrated=False))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("applied: " + ", ".join(applied) if applied else "nothing to apply")


@main.group()
def site():
    """Create and list sites (each has a public key for the snippet and a secret for the server API)."""


@site.command("create")
@click.option("--name", required=True, help="Shown in the dashboards.")
@click.option("--domain", "domains", multiple=True, help="A domain the site may send from (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def site_create(name, domains, as_json):
    """Create a site; prints its key and its secret (shown only once)."""
    from .store.sites import create_site

    created = create_site(command_store(), name, domains)
    _print(created, as_json, f"site key: {created['site']}\nsecret:   {created['secret']} (shown once)")


@site.command("update")
@click.argument("key")
@click.option("--retention-months", type=click.IntRange(0, 1200), default=None,
              help="Months of touchpoints to keep (older months are dropped by the journey worker); 0: all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def site_update(key, retention_months, as_json):
    """Change a site's settings."""
    from .store.sites import update_site

    updated = update_site(command_store(), key, retention_months=retention_months)
    if updated is None:
        raise click.ClickException(f"no site {key!r}; see `tracker site list`")
    updated.pop("secret_hash")
    _print(updated, as_json, f"{updated['site']}: keeps "
           + (f"{updated['retention_months']} months" if updated["retention_months"] else "everything"))


@site.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def site_list(as_json):
    """List the sites."""
    from .store.sites import list_sites

    sites = [{k: v for k, v in s.items() if k != "secret_hash"} for s in list_sites(command_store())]
    _print(sites, as_json, "\n".join(f"{s['site']}  {s['name']}  {' '.join(s['domains'])}" for s in sites))


@main.group()
def token():
    """Tokens for the analytics API."""


@token.command("create")
@click.option("--name", default="", help="What the token is for.")
@click.option("--site", "sites", multiple=True, help="Limit the token to a site (repeatable; default every site).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_create(name, sites, as_json):
    """Create an analytics API token (shown only once)."""
    from .store.sites import ALL_SITES, create_token

    created = create_token(command_store(), name, sites or (ALL_SITES,))
    _print(created, as_json, f"token: {created['token']} (shown once; id {created['id']})")


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_list(as_json):
    """List tokens by id (the tokens themselves are not kept)."""
    from .store.sites import list_tokens

    tokens = list_tokens(command_store())
    _print(tokens, as_json, "\n".join(f"{t['id']}  {t['name'] or '-'}  {' '.join(t['sites']) or '(no site)'}"
                                      f"{'  [revoked]' if t['revoked'] else ''}" for t in tokens))


@token.command("revoke")
@click.argument("value")
def token_revoke(value):
    """Revoke a token, given itself or its id (from `tracker token list`); effective at once."""
    from .store.sites import revoke_token

    if not revoke_token(command_store(), value):
        raise click.ClickException("no token (or more than one) matches; see `tracker token list`")
    click.echo("revoked")


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="host:port to listen on.")
@click.option("--workers", type=int, default=None, help="gunicorn workers (default: 2 per core; 1 on the embedded store).")
@click.option("--threads", type=int, default=8, show_default=True, help="Threads per worker.")
def serve(bind, workers, threads):
    """Serve with gunicorn, the production way."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    embedded = not settings["clickhouse_url"]
    if embedded and workers not in (None, 1):
        raise click.ClickException("the embedded store serves one process: use --workers 1 (with threads), "
                                   "or set TRACKER_CLICKHOUSE_URL to a ClickHouse server")
    workers = 1 if embedded else (workers or 2 * (os.cpu_count() or 1))
    # Migrate (or refuse, with the reason) once, before the workers start; a separate process,
    # so the embedded store is free again when gunicorn opens it.
    if subprocess.run([sys.executable, "-m", "tracker", "migrate"]).returncode:
        raise click.ClickException("not serving: the store could not be migrated (see above)")
    args = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
            "--threads", str(threads), "--config", "python:tracker.gunicorn_conf", "tracker:create_app()"]
    os.execv(sys.executable, args)


@main.command()
@click.argument("statement")
def sql(statement):
    """Run one SQL statement on the store and print its rows as JSON lines (for operators)."""
    from .store import StoreError

    try:
        result = command_store().query(statement)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    for row in result.dicts():
        click.echo(json.dumps(row, default=str))


@main.command("pixel-url")
@click.option("--base", required=True, help="The tracker's public URL, e.g. https://t.example.com")
@click.option("--site", required=True, help="The site key.")
@click.option("--uid", required=True, help="The recipient's user id.")
@click.option("--campaign", default=None, help="utm_campaign of the email.")
@click.option("--source", default=None, help="utm_source (e.g. newsletter).")
def pixel_url(base, site, uid, campaign, source):
    """Print the URL of an email-open pixel for one recipient."""
    from .ingest.snippet import pixel_url as build

    click.echo(build(base, site, uid, campaign=campaign, source=source))


def _add_groups():
    """The command groups of the journey engine, automations, the dashboards, the spool, the worker,
    the demo, privacy requests, export and import, and reclassify."""
    from .automations.cli import automation
    from .backup.cli import export_command, import_command
    from .dashboards.cli import user
    from .demo import demo
    from .ingest.cli import reclassify, spool
    from .journeys.cli import journey
    from .privacy.cli import person
    from .worker.cli import worker

    for command in (journey, automation, user, spool, worker, demo, reclassify, person, export_command,
                    import_command):
        main.add_command(command)


_add_groups()
