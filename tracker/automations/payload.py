"""The webhook body (DESIGN.md, *Public HTTP contract*):

``{"type": "journey.entered|dropped|stalled|reactivated|completed|day|no_touchpoint", "timestamp",
"data": {"site", "journey": {"id", "name"}, "person": {"id", "traits"}, "from_stage", "to_stage",
"at", "dwell_seconds", "days_since_day0", "cause": {type, name, url, channel, campaign},
"links": {"person": URL}}}``, plus ``automation`` {id, name} and, for the scheduled triggers,
``schedule`` {stage, days}. Stages are ``{"number", "name"}`` (number 0, name null: not entered).
Day 0 is the start of the person's run (their stage-1 touchpoint).
"""
import json
from datetime import datetime, timezone
from urllib.parse import quote

from .definitions import BODY_TYPES, DAY_MS, trigger, trigger_stage

SAMPLE_PERSON = "sample-person"


def iso(ms):
    """Unix ms as ISO 8601 UTC with milliseconds ("2026-03-01T09:30:00.000Z")."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stage(journey, number):
    stages = journey["stages"]
    return {"number": number, "name": stages[number - 1]["name"] if 0 < number <= len(stages) else None}


def person_link(public_url, site, person):
    """The prospect page of ``person`` (a path when no public URL is set)."""
    return f"{public_url.rstrip('/')}/dashboard/{quote(site, safe='')}/people/{quote(person, safe='')}"


def body(site, journey, automation, transition, traits, fire_ms, public_url):
    """The body (JSON text) of the delivery ``automation`` makes for ``transition`` (a row of
    ``journey_transitions``), sent for the moment ``fire_ms``."""
    definition = automation["definition"]
    name = trigger(definition)
    data = {
        "site": site,
        "journey": {"id": journey["id"], "name": journey["name"]},
        "automation": {"id": automation["id"], "name": definition["name"]},
        "person": {"id": transition["person"], "traits": traits},
        "from_stage": _stage(journey, transition["from_stage"]),
        "to_stage": _stage(journey, transition["to_stage"]),
        "at": iso(fire_ms),
        "dwell_seconds": transition["dwell_ms"] // 1000,
        "days_since_day0": max(0, fire_ms - transition["run_ms"]) // DAY_MS,
        "cause": {"type": transition["cause_type"], "name": transition["cause_name"], "url": transition["cause_url"],
                  "channel": transition["cause_channel"], "campaign": transition["cause_campaign"]},
        "links": {"person": person_link(public_url, site, transition["person"])},
    }
    if name in ("days_after", "no_touchpoint"):
        when = definition["when"]
        data["schedule"] = ({"stage": when["stage"], "days": when["days_after"]} if name == "days_after" else
                            {"stage": when[name]["after_stage"], "days": when[name]["days"]})
        data["schedule"]["entered_at"] = iso(transition["at_ms"])
    return json.dumps({"type": BODY_TYPES[name], "timestamp": iso(fire_ms), "data": data}, sort_keys=True)


def sample(site, journey, automation, now_ms, public_url):
    """A made-up delivery of ``automation`` (``POST …/test``), marked ``"test": true``."""
    stage = max(1, min(len(journey["stages"]), trigger_stage(automation["definition"]) or 1))
    transition = {"person": SAMPLE_PERSON, "from_stage": stage - 1, "to_stage": stage, "at_ms": now_ms,
                  "run_ms": now_ms - 3 * DAY_MS, "dwell_ms": DAY_MS, "cause_type": "pageview",
                  "cause_name": "", "cause_url": "https://example.com/sample", "cause_channel": "direct",
                  "cause_campaign": ""}
    parsed = json.loads(body(site, journey, automation, transition, {"email": "sample@example.com"}, now_ms,
                             public_url))
    parsed["test"] = True
    return json.dumps(parsed, sort_keys=True)

