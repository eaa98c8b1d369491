"""Scores trace() against a labelled set of ratings and prints per-step precision and recall.

`python -m haochaping.tracing.evaluate [tests/data/tracing_eval.jsonl]`; the eval test calls
evaluate() and asserts on the report.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from haochaping.catalog import Catalog, default_catalog
from haochaping.decoding import Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.timeline import CaseTimeline
from haochaping.tracing.attribution import Attribution
from haochaping.tracing.engine import trace

DEFAULT_PATH = Path("tests/data/tracing_eval.jsonl")


@dataclass(frozen=True, slots=True)
class Expected:
    step: str | None  # None: a positive rating that must not be attributed
    reason: str | None = None
    responsible_role: str | None = None


@dataclass(frozen=True, slots=True)
class LabelledRating:
    rating: RatingEvent
    timeline: CaseTimeline | None
    expected: Expected


@dataclass(frozen=True, slots=True)
class Miss:
    rating_id: str
    comment: str | None
    expected: str
    got: str


@dataclass(slots=True)
class Report:
    total: int = 0  # negative ratings
    correct: int = 0
    reason_total: int = 0
    reason_correct: int = 0
    role_total: int = 0
    role_correct: int = 0
    positives: int = 0
    positives_attributed: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[Miss] = field(default_factory=list)
    reason_misses: list[Miss] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def labels(self) -> list[str]:
        return sorted({label for pair in self.confusion for label in pair})

    def precision_recall(self, label: str) -> tuple[int, float, float]:
        support = sum(n for (expected, _), n in self.confusion.items() if expected == label)
        predicted = sum(n for (_, got), n in self.confusion.items() if got == label)
        hits = self.confusion[(label, label)]
        precision = hits / predicted if predicted else 0.0
        recall = hits / support if support else 0.0
        return support, precision, recall


def load(path: Path) -> list[LabelledRating]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        rating = decode_event(json.dumps(record["rating"]).encode(), expected="rating")
        if isinstance(rating, Rejection) or not isinstance(rating, RatingEvent):
            raise ValueError(f"{path}:{number}: bad rating: {rating}")
        events: list[CaseEvent] = []
        for raw in record.get("case_events", []):
            event = decode_event(json.dumps(raw).encode(), expected="case")
            if isinstance(event, Rejection) or not isinstance(event, CaseEvent):
                raise ValueError(f"{path}:{number}: bad case event: {event}")
            events.append(event)
        timeline = CaseTimeline.from_events(events) if events else None
        wanted = record["expected"]
        expected = Expected(wanted.get("step"), wanted.get("reason"), wanted.get("responsible_role"))
        items.append(LabelledRating(rating, timeline, expected))
    return items


def evaluate(items: Iterable[LabelledRating], catalog: Catalog | None = None) -> Report:
    catalog = catalog or default_catalog()
    report = Report()
    for item in items:
        attribution = trace(item.rating, item.timeline, catalog)
        _score(report, item, attribution)
    return report


def _score(report: Report, item: LabelledRating, attribution: Attribution) -> None:
    expected = item.expected
    if expected.step is None:
        report.positives += 1
        if attribution.negative or attribution.step is not None or attribution.steps:
            report.positives_attributed += 1
            report.misses.append(Miss(item.rating.rating_id, item.rating.comment, "(positive)", str(attribution.step)))
        return
    got = attribution.step or "None"
    report.total += 1
    report.confusion[(expected.step, got)] += 1
    if got == expected.step:
        report.correct += 1
    else:
        report.misses.append(Miss(item.rating.rating_id, item.rating.comment, expected.step, got))
    if expected.reason is not None:
        report.reason_total += 1
        if attribution.reason == expected.reason:
            report.reason_correct += 1
        elif got == expected.step:
            miss = Miss(item.rating.rating_id, item.rating.comment, expected.reason, str(attribution.reason))
            report.reason_misses.append(miss)
    if expected.responsible_role is not None:
        report.role_total += 1
        role = attribution.responsible.role if attribution.responsible is not None else None
        report.role_correct += role == expected.responsible_role


def format_report(report: Report) -> str:
    lines = [f"{'step':<12}{'support':>8}{'precision':>11}{'recall':>8}"]
    for label in report.labels():
        support, precision, recall = report.precision_recall(label)
        lines.append(f"{label:<12}{support:>8}{precision:>11.2f}{recall:>8.2f}")
    lines.append("")
    lines.append(f"primary-step accuracy: {report.correct}/{report.total} = {report.accuracy:.3f}")
    if report.reason_total:
        share = report.reason_correct / report.reason_total
        lines.append(f"reason accuracy (where labelled): {report.reason_correct}/{report.reason_total} = {share:.3f}")
    if report.role_total:
        share = report.role_correct / report.role_total
        lines.append(f"responsible role (where labelled): {report.role_correct}/{report.role_total} = {share:.3f}")
    lines.append(f"positives attributed: {report.positives_attributed}/{report.positives}")
    if report.misses:
        lines.append("")
        lines.append("misses:")
        for miss in report.misses:
            lines.append(f"  {miss.rating_id}: expected {miss.expected}, got {miss.got}: {miss.comment}")
    if report.reason_misses:
        lines.append("")
        lines.append("reason misses (step right):")
        for miss in report.reason_misses:
            lines.append(f"  {miss.rating_id}: expected {miss.expected}, got {miss.got}: {miss.comment}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    report = evaluate(load(path))
    print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
