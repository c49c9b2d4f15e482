"""Snapshot of the generated journey SQL: a change to the query shows up in review.

Regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/test_journeys_sql_snapshot.py``.
"""
import os
import re
from pathlib import Path

import pytest

from tracker.journeys import engine

SNAPSHOTS = Path(__file__).parent / "snapshots"
JOURNEY = {"name": "Trip", "window_days": 14, "stall_after_days": 7, "exclude": [{"name": "refund"}],
           "stages": [{"name": "discover", "match": {"path": "/destinations/*"}},
                      {"name": "compare", "match": {"name": "compare", "utm_campaign": "spring"}},
                      {"name": "book", "match": {"type": "purchase", "props": {"plan": "pro"}}}]}


def normalised(sql):
    return re.sub(r"[ \t]+\n", "\n", sql).strip() + "\n"


@pytest.mark.parametrize("order", ["ordered", "strict", "any"])
@pytest.mark.parametrize("kind", ["funnel", "people"])
def test_sql_snapshot(order, kind):
    q = engine.Query(dict(JOURNEY, order=order), "SITE", 1000, 2000, 3000, breakdown="channel")
    sql = engine.funnel_sql(q) if kind == "funnel" else engine.people_sql(q, "stalled", 2, cursor=(5, "p"))
    path = SNAPSHOTS / f"journey_{kind}_{order}.sql"
    text = normalised(sql) + "-- params: " + repr(sorted(q.params.values.items())) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text)
    assert text == path.read_text()
