"""The dry run: who an automation would have fired for over a period, from the transitions
already recorded, with the same matching the worker's step uses (``triggers.select``).

A delivery counts in the period its send falls in: the transition's time, or day 0 + N days for
the scheduled triggers, never later than ``now`` (a no_touchpoint is only known once its days
have passed). Re-entry is applied within the period, as if the automation had been enabled at
its start.
"""
from ..journeys import state
from . import triggers
from .definitions import delay_ms

LIMIT = 50_000


def dry_run(store, site, definition, journey, start_ms, end_ms, now_ms):
    """{"people": N, "deliveries": [{"person", "at_ms", "fire_ms", "run_ms", "to_stage"}] (oldest
    first), "truncated": bool} of ``definition`` (saved or not) over [start, end]."""
    delay = delay_ms(definition)
    end_ms = min(end_ms, now_ms)
    recorded = triggers.recorded(store, site, definition, state.build_of(journey), start_ms - delay, end_ms - delay,
                                 limit=LIMIT)
    chosen = triggers.select(store, site, definition, recorded)
    if "no_touchpoint" in definition["when"]:
        windows = {(t["person"], t["at_ms"], t["at_ms"] + delay): t for t in chosen}
        touched = set()
        persons = sorted({w[0] for w in windows})
        for i in range(0, len(persons), 2000):  # a bounded IN list per query
            some = set(persons[i:i + 2000])
            touched |= triggers.touched(store, site, definition["when"]["no_touchpoint"]["match"],
                                        [w for w in windows if w[0] in some])
        chosen = [t for window, t in windows.items() if window not in touched]
    found = [{"person": t["person"], "at_ms": t["at_ms"], "fire_ms": t["at_ms"] + delay, "run_ms": t["run_ms"],
              "to_stage": t["to_stage"]} for t in chosen]
    return {"people": len({d["person"] for d in found}), "deliveries": found, "truncated": len(recorded) >= LIMIT}
