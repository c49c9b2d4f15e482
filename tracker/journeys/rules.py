"""The rule vocabulary: which touchpoint fields a stage rule may test, as SQL templates.

One table, name → template, mirrored by ``tests/test_journeys_rules.py``. ``{value}`` and
``{key}`` are replaced by bound parameters (never by the values themselves); the column
names come only from this table.
"""
import re

# Field of a stage's "match" → SQL testing one touchpoint of ``events``.
RULES = {
    "type": "type = {value}",
    "name": "name = {value}",
    "path": "path = {value}",
    "path_glob": "match(path, {value})",
    "channel": "channel = {value}",
    "utm_source": "utm_source = {value}",
    "utm_medium": "utm_medium = {value}",
    "utm_campaign": "utm_campaign = {value}",
    "prop": "(has(prop_keys, {key}) AND prop_values[indexOf(prop_keys, {key})] = {value})",
}

# Columns of ``events`` that the templates above and the breakdowns below read (the channel
# and the source come from the engine: a touchpoint's own, or its visit's).
RULE_COLUMNS = ("type", "name", "path", "utm_source", "utm_medium", "utm_campaign", "prop_keys", "prop_values",
                "browser", "device", "country")

# The fields a stage rule may name, in the editor's order, with the label people read there;
# "path" picks "path_glob" when the value holds a '*'. The definition schema, the OpenAPI
# document and the editor's form are all made from this table.
RULE_FIELDS = {
    "type": "Type",
    "name": "Name",
    "path": "Path",
    "channel": "Channel",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "props": "Properties",
}

# breakdown= value → SQL of the entry touchpoint (or of the person, for first touch).
BREAKDOWNS = {
    "channel": "channel",
    "utm_source": "utm_source",
    "utm_campaign": "utm_campaign",
    "browser": "browser",
    "device": "device",
    "source": "source",
    "country": "country",
    "first_touch_channel": "channel",
}
PERSON_BREAKDOWNS = {"first_touch_channel"}
# The breakdowns of an attempt's entry touchpoint, in the order journey state keeps them.
ENTRY_BREAKDOWNS = tuple(name for name in BREAKDOWNS if name not in PERSON_BREAKDOWNS)


def glob_regex(pattern):
    """An anchored RE2 regex for a path glob where ``*`` is any run of characters."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


class Params:
    """Collects bound values under generated names: ``params.add(v)`` → ``%(p3)s``."""

    def __init__(self, initial=None):
        self.values = dict(initial or {})
        self._count = 0

    def add(self, value):
        name = f"p{self._count}"
        self._count += 1
        self.values[name] = value
        return f"%({name})s"


def condition(field, value, params, key=None):
    """SQL of one condition of the vocabulary, its value (and key) bound in ``params``."""
    if field == "path" and "*" in value:
        field, value = "path_glob", glob_regex(value)
    template = RULES[field]
    return template.format(value=params.add(value), key=params.add(key) if key is not None else "")


def rule_sql(match, params):
    """SQL that is true for a touchpoint matching every condition of ``match``."""
    parts = []
    for field in RULE_FIELDS:
        if field == "props":
            for key, value in sorted((match.get("props") or {}).items()):
                parts.append(condition("prop", value, params, key=key))
        elif match.get(field) is not None:
            parts.append(condition(field, match[field], params))
    return "(" + " AND ".join(parts) + ")" if parts else "1"
