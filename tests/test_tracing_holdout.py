"""Held-out tracing evaluation: reviews written blind to the tracing lexicon.

tests/data/tracing_holdout.jsonl holds 120 negative ratings (every step kind, JOURNEY, POLICY,
UNKNOWN; colloquial, traditional characters, typos, sarcasm, negation, two steps in one comment;
ten vague comments whose breach is only visible in the supplied case events) and 15 positive
ones. The accuracy floor is a regression guard, not a target: do not tune the lexicon to this
file, or it stops measuring anything.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from haochaping.catalog import default_catalog
from haochaping.decoding import Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.timeline import CaseTimeline
from haochaping.tracing import trace

DATA = Path(__file__).parent / "data" / "tracing_holdout.jsonl"
ACCURACY_FLOOR = 0.75


def _decode(obj: dict) -> RatingEvent | CaseEvent:
    decoded = decode_event(json.dumps(obj, ensure_ascii=False).encode())
    assert not isinstance(decoded, Rejection), f"{obj.get('rating_id') or obj.get('event_id')}: {decoded}"
    return decoded


def _load() -> list[dict]:
    with DATA.open(encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


@pytest.fixture(scope="module")
def results() -> list[tuple[dict, str | None]]:
    catalog = default_catalog()
    out = []
    for row in _load():
        rating = _decode(row["rating"])
        assert isinstance(rating, RatingEvent)
        events = [_decode(event) for event in row["case_events"]]
        assert all(isinstance(event, CaseEvent) for event in events)
        timeline = CaseTimeline.from_events(events) if events else None
        wire = trace(rating, timeline, catalog).to_wire()
        out.append((row, wire["step"]))
    return out


def test_holdout_file_shape() -> None:
    rows = _load()
    negatives = [row for row in rows if row["rating"]["level"] <= 2]
    positives = [row for row in rows if row["rating"]["level"] >= 4]
    assert len(negatives) == 120 and len(positives) == 15
    assert all(row["expected"]["step"] is None for row in positives)


def test_no_positive_rating_is_attributed(results: list[tuple[dict, str | None]]) -> None:
    attributed = [(row["rating"]["rating_id"], got) for row, got in results if row["expected"]["step"] is None and got]
    assert attributed == []


def test_primary_step_accuracy(results: list[tuple[dict, str | None]]) -> None:
    negatives = [(row, got) for row, got in results if row["expected"]["step"] is not None]
    total, hits = Counter(), Counter()
    misses = []
    for row, got in negatives:
        expected = row["expected"]["step"]
        total[expected] += 1
        if got == expected:
            hits[expected] += 1
        else:
            misses.append((row["rating"]["rating_id"], row["rating"]["comment"], expected, got))
    accuracy = sum(hits.values()) / len(negatives)

    print(f"\nheld-out tracing: {sum(hits.values())}/{len(negatives)} = {accuracy:.3f} primary-step accuracy")
    print(f"{'label':<12}{'n':>4}{'hit':>5}{'recall':>8}")
    for label in sorted(total, key=lambda name: (-total[name], name)):
        print(f"{label:<12}{total[label]:>4}{hits[label]:>5}{hits[label] / total[label]:>8.2f}")
    print("misses:")
    for rating_id, comment, expected, got in misses:
        print(f"  {rating_id} expected {expected:<10} got {got!s:<10} {comment}")

    assert accuracy >= ACCURACY_FLOOR
