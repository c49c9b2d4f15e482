"""Automation pages: a journey's automations (create one from its stages, with a dry run before
saving), one automation (edit, test, enable or disable, its delivery log with retries, its
dry run), through the same functions as the API."""
import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from .. import current
from ..automations import definitions, outbox
from ..automations.dryrun import dry_run
from ..automations.sender import send_test
from ..clock import DAY_MS, now_ms
from . import automation_form as form_
from . import bp
from .journeys import _journey
from .overview import site_name
from .security import site_required

DRY_RUN_DAYS = 30


def _settings():
    return current_app.config["TRACKER"]


def _automation(site, automation_id):
    found = definitions.get(current.store(), site, automation_id)
    if found is None:
        abort(404, "There is no automation with this id on this site.")
    return found


def _new_id(site, name):
    """An id from the name ("Pre-trip email" → "pre-trip-email"), numbered when taken."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "automation"
    taken = {a["id"] for a in definitions.list_all(current.store(), site)}
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _dry_run(site, definition, journey):
    now = now_ms()
    found = dry_run(current.store(), site, definition, journey, now - DRY_RUN_DAYS * DAY_MS, now, now)
    return dict(found, days=DRY_RUN_DAYS, sample=found["deliveries"][-20:][::-1])


def _submitted(site, journey):
    """(fields, definition or None, errors) of the posted form."""
    fields, definition, errors = form_.from_form(request.form, journey["id"])
    if errors:
        return fields, None, errors
    try:
        loaded, _ = definitions.checked(current.store(), site, definition, _settings()["webhook_allow_private"])
    except definitions.AutomationError as exc:
        return fields, None, form_.sentences(exc.fields)
    return fields, loaded, []


def _page(template, site, journey, status=200, **values):
    values.setdefault("errors", [])
    return render_template(template, site=site, site_name=site_name(site), journey=journey,
                           triggers=form_.TRIGGERS, reentry=form_.REENTRY, silence_fields=form_.SILENCE_FIELDS,
                           with_stage=form_.WITH_STAGE, with_days=form_.WITH_DAYS, describe=form_.describe,
                           **values), status


@bp.route("/<site>/journeys/<journey_id>/automations", methods=["GET", "POST"])
@site_required
def journey_automations(site, journey_id):
    """A journey's automations, and the form for a new one ("Dry run" shows who it would have
    fired for in the last 30 days, without saving)."""
    journey = _journey(site, journey_id)
    listed = definitions.list_all(current.store(), site, journey_id)
    counts = {a["id"]: outbox.counts(current.store(), site, a["id"]) for a in listed}
    if request.method == "GET":
        return _page("automations.html", site, journey, automations=listed, counts=counts, fields=form_.blank(journey))
    fields, loaded, errors = _submitted(site, journey)
    if errors:
        return _page("automations.html", site, journey, 400, automations=listed, counts=counts, fields=fields,
                     errors=errors)
    if request.form.get("action") == "dry_run":
        return _page("automations.html", site, journey, automations=listed, counts=counts, fields=fields,
                     preview=_dry_run(site, loaded, journey))
    automation_id = _new_id(site, loaded["name"])
    secret = definitions.save(current.store(), site, automation_id, loaded)
    return _detail(site, _automation(site, automation_id), journey, secret=secret, status=201)


def _detail(site, automation, journey, status=200, **values):
    rows, _ = outbox.listing(current.store(), site, automation["id"], limit=50)
    attempts = outbox.attempts_of(current.store(), site, automation["id"], [r["delivery_id"] for r in rows])
    values.setdefault("fields", form_.to_form(automation["definition"]))
    values.setdefault("preview", _dry_run(site, automation["definition"], journey))
    return _page("automation.html", site, journey, status, automation=automation, deliveries=rows,
                 attempts=attempts, counts=outbox.counts(current.store(), site, automation["id"]), **values)


@bp.route("/<site>/automations/<automation_id>", methods=["GET", "POST"])
@site_required
def automation(site, automation_id):
    """One automation: its form (save, dry run), test, enable or disable, delete; its deliveries."""
    found = _automation(site, automation_id)
    journey = _journey(site, found["definition"]["journey"])
    action = request.form.get("action") if request.method == "POST" else None
    if action == "delete":
        definitions.delete(current.store(), site, automation_id)
        flash(f"Automation “{found['definition']['name']}” deleted; its pending deliveries will not be sent.")
        return redirect(url_for("dashboards.journey_automations", site=site, journey_id=journey["id"]))
    if action == "test":
        sent = send_test(current.store(), found, journey, _settings()["public_url"], _settings()["webhook_allow_private"])
        outcome = "answered " + str(sent["last_code"]) if sent["last_code"] else "did not answer"
        flash(f"Test delivery sent: the receiver {outcome}" + (f" ({sent['last_error']})" if sent["last_error"] else "."))
        return redirect(url_for("dashboards.automation", site=site, automation_id=automation_id))
    if action in ("enable", "disable"):
        definitions.save(current.store(), site, automation_id, dict(found["definition"], enabled=action == "enable"))
        flash("Enabled: it acts on transitions from now on." if action == "enable" else "Disabled.")
        return redirect(url_for("dashboards.automation", site=site, automation_id=automation_id))
    if action in ("save", "dry_run"):
        fields, loaded, errors = _submitted(site, journey)
        if errors:
            return _detail(site, found, journey, 400, fields=fields, errors=errors, preview=None)
        if action == "dry_run":
            return _detail(site, found, journey, fields=fields, preview=_dry_run(site, loaded, journey), unsaved=True)
        definitions.save(current.store(), site, automation_id, loaded)
        flash("Saved.")
        return redirect(url_for("dashboards.automation", site=site, automation_id=automation_id))
    return _detail(site, found, journey)


@bp.post("/<site>/automations/<automation_id>/deliveries/<delivery_id>/retry")
@site_required
def retry_delivery(site, automation_id, delivery_id):
    """Send one delivery again at the worker's next round."""
    _automation(site, automation_id)
    try:
        found = outbox.retry(current.store(), site, automation_id, delivery_id)
    except ValueError as exc:
        abort(409, str(exc))
    if found is None:
        abort(404, "There is no such delivery.")
    flash("The delivery will be sent again within a few seconds.")
    return redirect(url_for("dashboards.automation", site=site, automation_id=automation_id))


def fired_for(site, person):
    """What the automations sent (or will send) for ``person``, newest first, each with its
    automation's name: the prospect page's section."""
    names = {a["id"]: a["definition"]["name"] for a in definitions.list_all(current.store(), site)}
    return [dict(row, automation_name=names.get(row["automation_id"], row["automation_id"]))
            for row in outbox.of_person(current.store(), site, person) if row["trigger"] != "test"]
