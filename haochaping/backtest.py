"""Offline spike detection over recorded events: the stream's code path, in event-time order.

`hcp backtest` and bench/evaluate_alerts.py call this: events are sorted by event time, traced
in batches by the same Ingestor as the worker, and their step observations fed to the detector.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from haochaping.alerts import Alert, DetectorConfig, SpikeDetector
from haochaping.catalog import Catalog
from haochaping.decoding import EventKind
from haochaping.ingest import Ingestor, Message
from haochaping.workdays import DateRange, WorkCalendar

RATINGS_TOPIC = "backtest.ratings"
CASES_TOPIC = "backtest.case-events"
KIND_OF_TOPIC: dict[str, EventKind] = {RATINGS_TOPIC: "rating", CASES_TOPIC: "case"}
# Larger than the worker's batches (10,000): a timeline is decoded once per batch, and the
# results do not depend on batch size because ratings see their timeline as of their own time.
BATCH_SIZE = 20_000
# Rows are thrown away here; the key only has to exist for the Ingestor.
_PSEUDONYM_KEY = b"hcp-backtest"

Source = tuple[str, Iterable[bytes]]
InvalidHandler = Callable[[str, int, str], None]  # (source name, line number, reason)


@dataclass(slots=True)
class BacktestReport:
    """Counts for the summary line of `hcp backtest`."""

    lines: int = 0
    ratings: int = 0
    case_events: int = 0
    invalid: int = 0
    observations: int = 0
    alerts: int = 0
    dropped_late: int = 0
    # Measurements counted Mon–Fri on dates the holiday calendar does not cover, and those dates.
    outside_calendar: int = 0
    outside_dates: DateRange | None = None


def backtest(
    lines: Iterable[bytes],
    case_lines: Iterable[bytes] | None,
    catalog: Catalog,
    config: DetectorConfig | None = None,
    *,
    report: BacktestReport | None = None,
    on_invalid: InvalidHandler | None = None,
    batch_size: int = BATCH_SIZE,
    calendar: WorkCalendar | None = None,
    strict_calendar: bool = False,
) -> Iterator[Alert]:
    """Alerts that the detector raises over the events, in the order the stream would raise them.

    `lines` may hold ratings and case events mixed (as `hcp simulate --out` writes them);
    `case_lines`, if given, more case events. Invalid lines are counted and passed to
    `on_invalid` with the Ingestor's reason; they do not stop the run. Working days are counted
    on `calendar` as the Ingestor does (default: the official one); with `strict_calendar`, a
    measurement on dates it does not cover raises CalendarNotCovered instead of counting Mon–Fri.
    """
    sources: list[Source] = [("ratings", lines)]
    if case_lines is not None:
        sources.insert(0, ("cases", case_lines))
    return run_messages(
        _sorted_messages(sources, report),
        catalog,
        config,
        report=report,
        on_invalid=on_invalid,
        batch_size=batch_size,
        calendar=calendar,
        strict_calendar=strict_calendar,
    )


def run_messages(
    messages: Iterable[tuple[Message, str, int]],
    catalog: Catalog,
    config: DetectorConfig | None = None,
    *,
    detector: SpikeDetector | None = None,
    report: BacktestReport | None = None,
    on_invalid: InvalidHandler | None = None,
    batch_size: int = BATCH_SIZE,
    calendar: WorkCalendar | None = None,
    strict_calendar: bool = False,
) -> Iterator[Alert]:
    """Ingest messages (in event-time order) batch by batch, detect, and yield the alerts.

    Each message comes with the source name and line number it is reported under if invalid.
    """
    report = report if report is not None else BacktestReport()
    detector = detector if detector is not None else SpikeDetector(config)
    ingestor = Ingestor(KIND_OF_TOPIC, _PSEUDONYM_KEY, catalog, calendar, strict_calendar=strict_calendar)
    timelines: dict[bytes, bytes] = {}
    batch: list[Message] = []
    origins: dict[int, tuple[str, int]] = {}

    def flush() -> list[Alert]:
        result = ingestor.process(batch, timelines)
        report.ratings += result.ratings
        report.case_events += result.case_events
        report.observations += len(result.observations)
        report.outside_calendar += result.outside_calendar
        if result.outside_dates is not None:
            report.outside_dates = result.outside_dates.union(report.outside_dates)
        for dead in result.dead_letters:
            report.invalid += 1
            if on_invalid is not None:
                name, number = origins.get(dead.message.offset, ("?", 0))
                on_invalid(name, number, dead.reason)
        detector.observe_all(result.observations)
        batch.clear()
        origins.clear()
        return detector.advance()

    for message, name, number in messages:
        batch.append(message)
        origins[message.offset] = (name, number)
        if len(batch) >= batch_size:
            yield from _counted(flush(), report)
    if batch:
        yield from _counted(flush(), report)
    yield from _counted(detector.finish(), report)
    report.dropped_late = detector.dropped_late


def _counted(alerts: list[Alert], report: BacktestReport) -> list[Alert]:
    report.alerts += len(alerts)
    return alerts


def _sorted_messages(sources: list[Source], report: BacktestReport | None) -> list[tuple[Message, str, int]]:
    """Every non-blank line as a Message on the topic of its kind, sorted by event time.

    A line whose time cannot be read sorts first and goes to the ratings topic, where the
    Ingestor rejects it with the precise reason. Equal times keep their input order.
    """
    keyed: list[tuple[float, int, str, int, bytes, str]] = []
    sequence = 0
    for name, lines in sources:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                continue
            moment, topic = _time_and_topic(line)
            keyed.append((moment, sequence, name, number, line, topic))
            sequence += 1
    if report is not None:
        report.lines += len(keyed)
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [
        (Message(topic, 0, offset, None, line), name, number)
        for offset, (_, _, name, number, line, topic) in enumerate(keyed)
    ]


def _time_and_topic(line: bytes) -> tuple[float, str]:
    try:
        document = json.loads(line)
    except ValueError:
        return float("-inf"), RATINGS_TOPIC
    if not isinstance(document, dict):
        return float("-inf"), RATINGS_TOPIC
    topic = CASES_TOPIC if document.get("schema") == "hcp.case/1" else RATINGS_TOPIC
    text = document.get("at" if topic == CASES_TOPIC else "rated_at")
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return float("-inf"), topic
    return moment.timestamp(), topic
