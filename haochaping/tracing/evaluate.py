"""Scores trace() against a labelled set of ratings and prints per-step precision and recall.

`python -m haochaping.tracing.evaluate [FILE.jsonl ...] [--misses]`; the eval tests call
evaluate() and assert on the report. A label is `"step"` (one answer) or `"steps"` (the answers an
analyst accepts; the first is the one counted in the confusion table when none matches).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    accepted: tuple[str, ...] = ()  # every acceptable primary step; () means just `step`
    category: str = ""  # the kind of story, for the per-category table

    def accepts(self, got: str) -> bool:
        return got in (self.accepted or (self.step,))


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
    categories: dict[str, list[int]] = field(default_factory=dict)  # category -> [correct, total]

    @property
    def reason_accuracy(self) -> float:
        return self.reason_correct / self.reason_total if self.reason_total else 0.0

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
        expected = _expected(record["expected"])
        items.append(LabelledRating(rating, timeline, expected))
    return items


def _expected(wanted: Mapping[str, Any]) -> Expected:
    accepted = tuple(str(step) for step in wanted.get("steps") or ())
    step = wanted.get("step", accepted[0] if accepted else None)
    return Expected(
        None if step is None else str(step),
        _optional(wanted.get("reason")),
        _optional(wanted.get("responsible_role")),
        accepted,
        str(wanted.get("category") or ""),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


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
    hit = expected.accepts(got)
    report.confusion[(got if hit else expected.step, got)] += 1
    tally = report.categories.setdefault(expected.category or "-", [0, 0])
    tally[0] += hit
    tally[1] += 1
    if hit:
        report.correct += 1
    else:
        wanted = "|".join(expected.accepted) or expected.step
        report.misses.append(Miss(item.rating.rating_id, item.rating.comment, wanted, got))
    if expected.reason is not None:
        report.reason_total += 1
        if attribution.reason == expected.reason:
            report.reason_correct += 1
        elif hit:
            miss = Miss(item.rating.rating_id, item.rating.comment, expected.reason, str(attribution.reason))
            report.reason_misses.append(miss)
    if expected.responsible_role is not None:
        report.role_total += 1
        role = attribution.responsible.role if attribution.responsible is not None else None
        report.role_correct += role == expected.responsible_role


def format_categories(report: Report) -> str:
    lines = [f"{'category':<24}{'n':>5}{'hit':>5}{'accuracy':>10}"]
    for name, (hits, total) in sorted(report.categories.items(), key=lambda item: (-item[1][1], item[0])):
        lines.append(f"{name:<24}{total:>5}{hits:>5}{hits / total:>10.2f}")
    return "\n".join(lines)


def format_report(report: Report, misses: bool = True) -> str:
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
    if misses and report.misses:
        lines.append("")
        lines.append("misses:")
        for miss in report.misses:
            lines.append(f"  {miss.rating_id}: expected {miss.expected}, got {miss.got}: {miss.comment}")
    if misses and report.reason_misses:
        lines.append("")
        lines.append("reason misses (step right):")
        for miss in report.reason_misses:
            lines.append(f"  {miss.rating_id}: expected {miss.expected}, got {miss.got}: {miss.comment}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    show_misses = "--misses" in args or len([arg for arg in args if not arg.startswith("--")]) <= 1
    paths = [Path(arg) for arg in args if not arg.startswith("--")] or [DEFAULT_PATH]
    summary = []
    for path in paths:
        report = evaluate(load(path))
        print(f"== {path}")
        print(format_report(report, misses=show_misses))
        if len(report.categories) > 1:
            print(format_categories(report))
        print()
        summary.append((path.name, report))
    if len(summary) > 1:
        print(f"{'set':<28}{'negatives':>10}{'step':>7}{'reason':>8}{'role':>7}{'positives attributed':>22}")
        for name, report in summary:
            role = report.role_correct / report.role_total if report.role_total else 0.0
            print(
                f"{name:<28}{report.total:>10}{report.accuracy:>7.3f}{report.reason_accuracy:>8.3f}"
                f"{role:>7.3f}{report.positives_attributed:>12}/{report.positives}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
