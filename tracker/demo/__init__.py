"""``tracker demo``: a travel company's site with several journeys and thousands of people.

The touchpoints go through the real ingest path (the server-side API with the site's
secret, since they lie in the past), so the demo exercises what production runs.
"""
import json
import secrets
from pathlib import Path

import click

from .people import SITE_NAME, generate

JOURNEYS = Path(__file__).with_name("journeys.json")
DEMO_EMAIL = "demo@wanderlust.example"
RECEIVER = "http://127.0.0.1:8025"
# The two automations of the demo, pointed at its receiver (tracker/demo/receiver.py); they act
# on the last two weeks of the demo's story, so deliveries arrive as soon as it serves.
AUTOMATIONS = {
    "pre-trip-email": {"name": "Entered Book → pre-trip email", "journey": "trip", "when": {"entered": 4},
                       "webhook": {"url": f"{RECEIVER}/pre-trip-email"}, "enabled": True},
    "no-contact-alert": {"name": "No contact within 3 days of Book → alert the account manager", "journey": "trip",
                         "when": {"no_touchpoint": {"after_stage": 4, "days": 3, "match": {"type": "offline"}}},
                         "webhook": {"url": f"{RECEIVER}/account-manager"}, "enabled": True},
}
BACKFILL_DAYS = 14


def _login_file(settings):
    return settings["data_dir"] / "demo-login.json"


def load(app, people, seed):
    """Create the site, journeys, a dashboard user and the touchpoints; return the login."""
    from ..store.accounts import create_user
    from ..journeys.definitions import save, validate_definition
    from ..store.sites import create_site, create_token

    store = app.extensions["store"]
    site = create_site(store, SITE_NAME, ["wanderlust.example"])
    app.extensions["tracker"].sites.refresh()
    for journey_id, definition in json.loads(JOURNEYS.read_text()).items():
        save(store, site["site"], journey_id, validate_definition(definition))
    client = app.test_client()
    sent = 0
    for batch in generate(people, seed):
        response = client.post("/api/v1/touchpoints", json={"site": site["site"], "events": batch},
                               headers={"Authorization": "Bearer " + site["secret"]})
        if response.status_code != 202:
            raise click.ClickException(f"the demo data was refused: {response.get_json()}")
        sent += response.get_json()["accepted"]
    app.extensions["tracker"].writer.flush(timeout=120)
    add_automations(store, site["site"], app.config["TRACKER"]["data_dir"])
    password = secrets.token_urlsafe(9)
    create_user(store, DEMO_EMAIL, password, [site["site"]])
    token = create_token(store, "demo", [site["site"]])["token"]
    return {"email": DEMO_EMAIL, "password": password, "site": site["site"], "token": token, "touchpoints": sent}


def add_automations(store, site, folder):
    """The demo's automations (those missing), their signing secrets kept for the receiver."""
    from ..automations import definitions
    from ..clock import DAY_MS, now_ms
    from ..journeys import definitions as journeys
    from .receiver import SECRETS_FILE

    path = Path(folder) / SECRETS_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    for automation_id, body in AUTOMATIONS.items():
        if definitions.get(store, site, automation_id):
            continue
        body = dict(body, backfill_from=now_ms() - BACKFILL_DAYS * DAY_MS)
        loaded = definitions.validate_definition(body, journeys.get(store, site, body["journey"]))
        known[automation_id] = definitions.save(store, site, automation_id, loaded)
    path.write_text(json.dumps(known))
    path.chmod(0o600)


@click.command()
@click.option("--people", default=3000, show_default=True, help="How many people to invent.")
@click.option("--seed", default=7, show_default=True, help="Random seed (the same seed, the same story).")
def demo(people, seed):
    """Load the demo site once (Wanderlust Travel) and print how to log in."""
    from .. import close_app, create_app
    from ..store.sites import list_sites

    app = create_app({"journey_worker": False})  # the server it is loaded for runs one; a worker mid-round at exit crashes chDB
    settings = app.config["TRACKER"]
    login_file = _login_file(settings)
    if login_file.exists() and any(s["name"] == SITE_NAME for s in list_sites(app.extensions["store"])):
        login = json.loads(login_file.read_text())
        add_automations(app.extensions["store"], login["site"], settings["data_dir"])
        click.echo("The demo data is already loaded.")
    else:
        click.echo(f"Loading the demo: {people} people of {SITE_NAME} through the ingest API…")
        login = load(app, people, seed)
        login_file.write_text(json.dumps(login))
        login_file.chmod(0o600)
        click.echo(f"Loaded {login['touchpoints']} touchpoints.")
    close_app(app)
    click.echo(f"\n  Dashboards: http://127.0.0.1:8000/  (log in as {login['email']} / {login['password']})"
               f"\n  API token:  {login['token']}  (site {login['site']})"
               f"\n  Webhooks:   two automations of the Trip journey post to {RECEIVER}; its log is "
               f"{settings['data_dir'] / 'webhooks.log'}\n")
