"""Time as the store and the reports keep it: Unix milliseconds, days in UTC."""
import calendar
import time

DAY_MS = 86_400_000


def now_ms():
    """Now, in Unix milliseconds."""
    return int(time.time() * 1000)


def day_start_ms(day):
    """The first millisecond of ``day`` (a date) in UTC."""
    return calendar.timegm(day.timetuple()) * 1000


def day_end_ms(day):
    """The last millisecond of ``day`` (a date) in UTC: ranges of whole days include it."""
    return day_start_ms(day) + DAY_MS - 1
