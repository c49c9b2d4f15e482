"""The journey editor's form: to a definition for the engine's validation, and its errors
back into sentences that name the stage and the field."""
from ..journeys.definitions import WINDOW_UNITS, valid_id
from ..journeys.rules import RULE_FIELDS

FIELD_LABELS = dict(RULE_FIELDS, window="Window", window_days="Window (days)", stall_after_days="Stalled after (days)",
                    order="Order", name="Name", stages="Stages", exclude="Exclusions", description="Description",
                    id="Id")


def blank_definition():
    """What the editor shows for a new journey."""
    return {"name": "", "description": "", "window": {"value": 30, "unit": "day"}, "stall_after_days": 14,
            "order": "ordered", "stages": [], "exclude": []}


# The window units the form offers, in its order.
WINDOW_CHOICES = list(WINDOW_UNITS)


def props_text(props):
    """A rule's properties as the text of the form: ``key=value; key=value``."""
    return "; ".join(f"{k}={v}" for k, v in (props or {}).items())


def _parse_props(text):
    props, bad = {}, []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            bad.append(part.strip())
        else:
            props[key.strip()] = value.strip()
    return props, bad


def _rules(form, prefix):
    """The rules of the repeated rows ``prefix_FIELD`` (blank rows dropped), with their problems."""
    columns = {field: form.getlist(f"{prefix}_{field}") for field in RULE_FIELDS}
    names = form.getlist(f"{prefix}_label") if prefix == "stage" else None
    rows = max((len(v) for v in columns.values()), default=0)
    found, errors = [], []
    for i in range(rows):
        match = {}
        for field in RULE_FIELDS:
            value = (columns[field][i] if i < len(columns[field]) else "").strip()
            if field == "props":
                props, bad = _parse_props(value)
                if bad:
                    errors.append((f"{prefix}.{len(found)}.props", f"write properties as key=value; "
                                                                    f"not understood: {', '.join(bad)}"))
                if props:
                    match["props"] = props
            elif value:
                match[field] = value
        name = (names[i] if names and i < len(names) else "").strip()
        if match or name:
            found.append({"name": name, "match": match} if names is not None else match)
    return found, errors


def definition_from_form(form, journey_id):
    """(definition as typed, id of a new journey, [(field, problem)]) from the editor's form."""
    stages, errors = _rules(form, "stage")
    exclude, exclude_errors = _rules(form, "exclude")
    raw = {"name": form.get("name", "").strip(), "description": form.get("description", "").strip(),
           "order": form.get("order", "ordered"), "stages": stages, "exclude": exclude}
    value = form.get("stall_after_days", "").strip()
    if value:
        raw["stall_after_days"] = value
    window = form.get("window_value", "").strip()
    if window:
        raw["window"] = {"value": int(window) if window.isdigit() else window, "unit": form.get("window_unit", "day")}
    new_id = journey_id or form.get("id", "").strip()
    problems = [(f"stages.{k.split('.')[1]}.match.props", v) for k, v in errors]
    problems += [(f"exclude.{k.split('.')[1]}.props", v) for k, v in exclude_errors]
    if not journey_id and not valid_id(new_id):
        problems.append(("id", "letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit"))
    return raw, new_id, [(key, _sentence(key, message, raw)) for key, message in problems]


def _sentence(key, message, raw):
    """'Stage 2 “Compare”, Path: no spaces in a path' from ('stages.1.match.path', message)."""
    parts = key.split(".")
    if parts[0] == "stages" and len(parts) > 1 and parts[1].isdigit():
        index = int(parts[1])
        name = raw["stages"][index]["name"] if index < len(raw["stages"]) else ""
        where = f"Stage {index + 1}" + (f" “{name}”" if name else "")
        field = parts[3] if len(parts) > 3 else ("rule" if parts[2:] == ["match"] else "".join(parts[2:3]))
        field = "Stage name" if field == "name" and len(parts) == 3 else field
    elif parts[0] == "exclude" and len(parts) > 1 and parts[1].isdigit():
        where, field = f"Exclusion {int(parts[1]) + 1}", parts[2] if len(parts) > 2 else "rule"
    else:
        where, field = FIELD_LABELS.get(parts[0], parts[0]), ""
    label = FIELD_LABELS.get(field, field) if field != "Stage name" else field
    return f"{where}{', ' + label if label else ''}: {message}"


def describe_errors(fields, raw):
    """The engine's validation errors ({"stages.1.match.path": reason}) as [(key, sentence)]."""
    return [(key, _sentence(key, message, raw)) for key, message in fields.items()]
