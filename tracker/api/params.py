"""Query-string parsing for the analytics API: each bad value becomes a 400 naming the field."""
import time
from datetime import date, datetime, timezone

from ..errors import ApiError

DAY_MS = 86_400_000


def _bad(field, reason):
    return ApiError(400, f"invalid {field}: {reason}", {field: reason})


def time_ms(args, field, default, end_of_day=False):
    """A time given as Unix ms, YYYY-MM-DD (start, or end with ``end_of_day``) or ISO 8601."""
    raw = args.get(field)
    if raw is None or raw == "":
        return default
    if raw.isdigit():
        return int(raw)
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
            return start + DAY_MS - 1 if end_of_day else start
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(field, "expected YYYY-MM-DD, an ISO 8601 time or Unix milliseconds") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def now_ms():
    return int(time.time() * 1000)


def date_range(args):
    """(start_ms, end_ms, as_of_ms) of a funnel: default the 30 days up to as_of."""
    as_of = time_ms(args, "as_of", now_ms())
    end = min(time_ms(args, "to", as_of, end_of_day=True), as_of)
    start = time_ms(args, "from", end - 30 * DAY_MS)
    if start > end:
        raise _bad("from", "after 'to' (or after as_of)")
    return start, end, as_of


def integer(args, field, default, low, high):
    raw = args.get(field)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(field, "not a whole number") from None
    if not low <= value <= high:
        raise _bad(field, f"must be between {low} and {high}")
    return value


def choice(args, field, options, default=None):
    raw = args.get(field) or default
    if raw is not None and raw not in options:
        raise _bad(field, f"one of {', '.join(sorted(options))}")
    return raw
