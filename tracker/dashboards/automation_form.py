"""The automation editor's form: flat fields to a definition for the API's validation, a
definition back to fields, and validation errors as sentences naming the field."""

from ..automations.definitions import rules_of

TRIGGERS = [("entered", "Enters stage"), ("dropped_after", "Drops after stage"), ("stalled_at", "Stalls at stage"),
            ("reactivated", "Comes back after stalling or dropping"), ("completed", "Completes the journey"),
            ("days_after", "N days after entering stage (their own day 0)"),
            ("no_touchpoint", "No matching touchpoint within N days after entering stage")]
REENTRY = [("once_per_run", "Once per pass through the journey"), ("every_time", "Every time"),
           ("once_per_person", "Once per person, ever")]
WITH_STAGE = ("entered", "dropped_after", "stalled_at", "days_after", "no_touchpoint")
WITH_DAYS = ("days_after", "no_touchpoint")
SILENCE_FIELDS = [("type", "Contact type"), ("name", "Contact name"), ("channel", "Contact channel")]
LABELS = {"name": "Name", "journey": "Journey", "when": "Trigger", "stage": "Stage", "days": "Days",
          "days_after": "Days", "after_stage": "Stage", "entered": "Stage", "dropped_after": "Stage",
          "stalled_at": "Stage",
          "match": "Touchpoint that counts as contact", "filter": "Filter", "traits": "Traits", "channel": "Channel",
          "campaign": "Campaign", "webhook": "Webhook URL", "url": "Webhook URL", "reentry": "Fires",
          "backfill_from": "Act on transitions from", "description": "Description", "id": "Id"}


def blank(journey):
    """The fields of a new automation of ``journey``."""
    return {"name": "", "trigger": "entered", "stage": str(len(journey["stages"])), "days": "3", "url": "",
            "reentry": "once_per_run", "enabled": False, "backfill_from": "", "traits": "", "channel": "",
            "campaign": "", "description": "", **{f"silence_{f}": "" for f, _ in SILENCE_FIELDS}}


def _split(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _traits(text):
    traits, bad = {}, []
    for line in (text or "").replace(";", "\n").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if sep and key.strip():
            traits[key.strip()] = value.strip()
        else:
            bad.append(line.strip())
    return traits, bad


def from_form(form, journey_id):
    """(the fields as entered, the definition they make, errors found before validation)."""
    fields = {key: form.get(key, "").strip() for key in blank({"stages": []}) if key != "enabled"}
    fields["enabled"] = form.get("enabled") == "on"
    name, errors = fields["trigger"], []
    stage, days = _number(fields["stage"]), _number(fields["days"])
    when = {name: stage if name in ("entered", "dropped_after", "stalled_at") else True}
    if name == "days_after":
        when = {"days_after": days, "stage": stage}
    elif name == "no_touchpoint":
        when = {"no_touchpoint": {"after_stage": stage, "days": days, "match": _contact(fields)}}
    traits, bad = _traits(fields["traits"])
    if bad:
        errors.append(("filter.traits", f"Traits: write one key=value a line; not understood: {', '.join(bad)}"))
    filter_ = {key: value for key, value in (("traits", traits), ("channel", _split(fields["channel"])),
                                             ("campaign", _split(fields["campaign"]))) if value}
    definition = {"name": fields["name"], "journey": journey_id, "when": when, "filter": filter_,
                  "webhook": {"url": fields["url"]}, "enabled": fields["enabled"], "reentry": fields["reentry"],
                  "description": fields["description"]}
    if fields["backfill_from"]:
        definition["backfill_from"] = fields["backfill_from"]
    return fields, definition, errors


def _contact(fields):
    """The contact rule of the form: "email_sent, call" as the type makes one rule per type."""
    shared = {f: fields[f"silence_{f}"] for f, _ in SILENCE_FIELDS if f != "type" and fields[f"silence_{f}"]}
    types = _split(fields["silence_type"])
    rules = [dict(shared, type=t) for t in types] or [shared]
    return rules if len(rules) > 1 else rules[0]


def _number(text):
    return int(text) if text.isdigit() else text


def to_form(definition):
    """A stored definition as the form's fields."""
    when, name = definition["when"], next(n for n, _ in TRIGGERS if n in definition["when"])
    fields = blank({"stages": []})
    fields.update(name=definition["name"], trigger=name, url=definition["webhook"]["url"],
                  reentry=definition["reentry"], enabled=definition["enabled"],
                  backfill_from=definition.get("backfill_from") or "", description=definition.get("description", ""))
    if name in ("entered", "dropped_after", "stalled_at"):
        fields["stage"] = str(when[name])
    elif name == "days_after":
        fields.update(stage=str(when["stage"]), days=str(when["days_after"]))
    elif name == "no_touchpoint":
        rule = when[name]
        rules = rules_of(rule["match"])
        fields.update(stage=str(rule["after_stage"]), days=str(rule["days"]),
                      **{f"silence_{f}": rules[0].get(f, "") for f, _ in SILENCE_FIELDS})
        fields["silence_type"] = ", ".join(r["type"] for r in rules if r.get("type"))
    wanted = definition.get("filter") or {}
    fields["traits"] = "\n".join(f"{k}={v}" for k, v in (wanted.get("traits") or {}).items())
    fields["channel"] = ", ".join(wanted.get("channel") or [])
    fields["campaign"] = ", ".join(wanted.get("campaign") or [])
    return fields


def sentences(field_errors):
    """[(field path, "Label: reason")] of validation errors ({"when.entered": "…"})."""
    found = []
    for path, reason in field_errors.items():
        parts = [p for p in path.split(".") if not p.isdigit()]
        label = next((LABELS[p] for p in reversed(parts) if p in LABELS), "Automation")
        found.append((path, f"{label}: {reason}"))
    return found


def describe(definition, journey):
    """The trigger in words, after "When a person": "enters stage 3 (Book)", "is 3 days past
    entering stage 1 (Discover)"."""
    when = definition["when"]
    stages = journey["stages"]

    def stage(j):
        return f"stage {j} ({stages[j - 1]['name']})" if 0 < j <= len(stages) else f"stage {j}"

    if "entered" in when:
        return f"enters {stage(when['entered'])}"
    if "dropped_after" in when:
        return f"drops after {stage(when['dropped_after'])}"
    if "stalled_at" in when:
        return f"stalls at {stage(when['stalled_at'])}"
    if "reactivated" in when:
        return "comes back after stalling or dropping"
    if "completed" in when:
        return "completes the journey"
    if "days_after" in when:
        return f"is {when['days_after']} days past entering {stage(when['stage'])}"
    rule = when["no_touchpoint"]
    match = " or ".join(", ".join(f"{k} {v}" for k, v in r.items() if k != "props") for r in rules_of(rule["match"]))
    return f"has no touchpoint ({match}) within {rule['days']} days after entering {stage(rule['after_stage'])}"
