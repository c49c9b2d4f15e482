"""Stage changes derived from a person's journey state: plain Python over what the engine found.

The engine gives each person's clean attempts (a windowFunnel attempt per stage-1 touchpoint).
Attempts overlap: five destination pages viewed in a week are five attempts, and a compare page
after them advances all five. What a person goes through, and what automations act on, is a
*run*: the attempts that start while an earlier one is still open (its window not closed, the
journey not completed) belong to the same run; the run reaches a stage when any of its attempts
does, at the earliest such time. The first stage-1 touchpoint after a run ended starts the next
run (a second trip after the first). The person's stage, the furthest of all attempts, is the
furthest of all runs.

``implied(runs, touch_times, journey, as_of)`` is every transition a state implies up to ``as_of``; the
worker records those not recorded before. Ids are derived from what a transition says (kind,
stage, time), never from when it was found, so deriving twice writes nothing new.
"""
import hashlib
from dataclasses import dataclass, field

from ..clock import DAY_MS
from .definitions import window_ms

KINDS = ("entered", "completed", "dropped", "stalled", "reactivated", "left")


@dataclass
class Run:
    """One pass of a person through a journey."""

    start: int
    times: list  # per stage, when the run first reached it (0: not reached)
    end: int  # when it completed, or when the window of its last attempt closes
    stage: int = 0

    def stage_at(self, moment):
        """Stages reached by ``moment``."""
        return sum(1 for t in self.times if 0 < t <= moment)

    @property
    def completed(self):
        return self.stage == len(self.times)


@dataclass
class Transition:
    kind: str
    run_ms: int
    from_stage: int
    to_stage: int
    at_ms: int
    dwell_ms: int
    cause_ms: int = 0  # the time of the touchpoint that caused it (0: time passing caused it)
    id: str = field(default="", compare=False)


def runs_of(attempts, k, window):
    """The runs of clean ``attempts`` ``[(entry, stage, times)]`` (any order)."""
    runs = []
    for entry, stage, times in sorted(attempts):
        if runs and entry <= runs[-1].end:
            run = runs[-1]
            for j in range(stage):
                if not run.times[j] or times[j] < run.times[j]:
                    run.times[j] = times[j]
            open_until = max(run.end, entry + window)
        else:
            run = Run(start=entry, times=[times[j] if j < stage else 0 for j in range(k)], end=entry + window)
            runs.append(run)
            open_until = run.end
        run.stage = sum(1 for t in run.times if t)
        run.end = run.times[k - 1] if run.completed else open_until
    return runs


def _silences(touch_times, stall_ms, as_of):
    """(last touchpoint, stall moment, next touchpoint or 0) of every silence that grew longer
    than ``stall_ms`` by ``as_of``."""
    found = []
    for i, last in enumerate(touch_times):
        after = touch_times[i + 1] if i + 1 < len(touch_times) else 0
        moment = last + stall_ms
        if moment <= as_of and (not after or after > moment):
            found.append((last, moment, after if after and after <= as_of else 0))
    return found


def _first_after(touch_times, moment, as_of):
    return next((t for t in touch_times if moment < t <= as_of), 0)


def runs_of_journey(attempts, journey):
    return runs_of(attempts, len(journey["stages"]), window_ms(journey))


def implied(runs, touch_times, journey, as_of):
    """Every transition that a person's ``runs`` (``runs_of_journey``) and ``touch_times`` imply
    up to ``as_of``, ids not yet set."""
    k = len(journey["stages"])
    silences = _silences(touch_times, journey["stall_after_days"] * DAY_MS, as_of)
    found = []
    for run in runs:
        for j in range(1, run.stage + 1):
            at = run.times[j - 1]
            if at <= as_of:
                dwell = at - run.times[j - 2] if j > 1 else 0
                found.append(Transition("entered", run.start, j - 1, j, at, dwell, cause_ms=at))
        if run.completed and run.end <= as_of:
            found.append(Transition("completed", run.start, k, k, run.end, run.end - run.start, cause_ms=run.end))
        elif not run.completed and run.end <= as_of:
            dwell = run.end - run.times[run.stage - 1]
            found.append(Transition("dropped", run.start, run.stage, run.stage, run.end, dwell))
            back = _first_after(touch_times, run.end, as_of)
            if back:
                found.append(Transition("reactivated", run.start, run.stage, run.stage, back, back - run.end,
                                        cause_ms=back))
        for last, moment, back in silences:
            if not run.start <= last or moment > run.end or (run.completed and moment >= run.end):
                continue
            stage = run.stage_at(moment)
            found.append(Transition("stalled", run.start, stage, stage, moment, moment - run.times[stage - 1]))
            if back:
                found.append(Transition("reactivated", run.start, stage, stage, back, back - moment, cause_ms=back))
    return found


def next_deadline(runs, touch_times, journey, as_of):
    """The next moment after ``as_of`` when time passing alone changes something (a run's window
    closes, the latest silence grows long), or 0."""
    stall_ms = journey["stall_after_days"] * DAY_MS
    moments = []
    for run in runs:
        if run.completed:
            continue
        if run.end > as_of:
            moments.append(run.end)
        if touch_times and touch_times[-1] >= run.start and as_of < touch_times[-1] + stall_ms <= run.end:
            moments.append(touch_times[-1] + stall_ms)
    return min(moments, default=0)


def identity(transition):
    """What a transition says, which its id hashes: kind, stages, time (``left`` adds what it undoes)."""
    return (transition.kind, transition.from_stage, transition.to_stage, transition.at_ms,
            transition.run_ms if transition.kind == "left" else "")


def transition_id(site, journey_id, build, person, transition):
    """The id of a transition: what it says, hashed, within the build of journey state it belongs
    to: a new definition has a history of its own."""
    text = "|".join(str(part) for part in (site, journey_id, build, person) + identity(transition))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def with_ids(site, journey_id, build, person, transitions):
    for transition in transitions:
        transition.id = transition_id(site, journey_id, build, person, transition)
    return transitions


def lowered(old_runs, new_runs, detected_ms):
    """A ``left`` for each old run whose stage went down (a late exclusion, a merge of people):
    to the furthest stage of the new runs it overlaps, or 0."""
    found = []
    for old in old_runs:
        overlapping = [new.stage for new in new_runs if new.start <= old.end and old.start <= new.end]
        now_at = max(overlapping, default=0)
        if now_at < old.stage:
            found.append(Transition("left", old.start, old.stage, now_at, detected_ms, 0))
    return found


def replay(transitions):
    """A person's stage from their transitions alone (oldest detection first): the furthest
    stage of any run, each run's stage being where its last transition left it."""
    runs = {}
    for t in transitions:
        if t.kind in ("entered", "left"):
            runs[t.run_ms] = max(runs.get(t.run_ms, 0), t.to_stage) if t.kind == "entered" else t.to_stage
    return max(runs.values(), default=0)
