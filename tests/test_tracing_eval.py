"""The labelled evaluation set: hand-written reviews of every step, reason and shape.

Run with -s to see the per-step precision/recall table (also `python -m haochaping.tracing.evaluate`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from haochaping.codes import Reason, StepKind
from haochaping.tracing.evaluate import LabelledRating, Report, evaluate, format_report, load

EVAL_SET = Path(__file__).parent / "data" / "tracing_eval.jsonl"


@pytest.fixture(scope="module")
def items() -> list[LabelledRating]:
    return load(EVAL_SET)


@pytest.fixture(scope="module")
def report(items: list[LabelledRating]) -> Report:
    result = evaluate(items)
    print("\n" + format_report(result))
    return result


def test_the_set_covers_every_step_reason_and_label(items: list[LabelledRating]) -> None:
    negatives = [item for item in items if item.expected.step is not None]
    positives = [item for item in items if item.expected.step is None]
    assert len(negatives) >= 150
    assert len(positives) >= 20
    steps = {item.expected.step for item in negatives}
    assert {step.value for step in StepKind} | {"JOURNEY", "POLICY", "UNKNOWN"} <= steps
    reasons = {item.expected.reason for item in negatives}
    assert {reason.value for reason in Reason} <= reasons
    assert all(not item.rating.negative for item in positives)
    assert any(item.timeline is not None for item in negatives)


def test_primary_step_accuracy(report: Report) -> None:
    assert report.accuracy >= 0.90, format_report(report)


def test_no_positive_rating_is_attributed(report: Report) -> None:
    assert report.positives_attributed == 0


def test_every_step_is_found_at_least_sometimes(report: Report) -> None:
    for step in StepKind:
        _support, precision, recall = report.precision_recall(step.value)
        assert recall > 0.5 and precision > 0.5, (step, precision, recall)


def test_reasons_and_responsible_roles(report: Report) -> None:
    assert report.reason_correct / report.reason_total >= 0.85
    assert report.role_correct == report.role_total
