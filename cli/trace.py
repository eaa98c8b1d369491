"""`hcp trace`: attribute ratings from files, one Attribution JSON line per rating on stdout.

The same decoding, timelines and tracing engine as the stream worker, without Kafka.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

from cli import Subcommands
from haochaping.holidays import UPGRADE_HINT
from haochaping.settings import Settings
from haochaping.workdays import CalendarNotCovered, DateRange, WorkCalendar


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "trace",
        help="attribute ratings to steps and organisations (JSONL in, JSONL out)",
        description="Read rating events (JSONL) and optionally the case events of their cases, and write one "
        "Attribution JSON line per valid rating to stdout. Invalid lines are reported on stderr with their "
        "line number and reason; tracing goes on. Lines of the other kind (case events in the ratings "
        "input) are used as case events. Working days are counted on the official holiday calendar "
        "(HCP_HOLIDAY_CALENDAR); a rating whose case was measured on dates it does not cover is reported "
        "on stderr with those dates instead of traced, and the exit status is 2, unless --outside-calendar "
        "weekdays counts Mon-Fri there as the stream worker does.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n"
        "  hcp simulate --count 100000 --out sample.jsonl\n"
        "  hcp trace --cases sample.jsonl sample.jsonl > attributions.jsonl",
    )
    parser.add_argument("ratings", nargs="?", default="-", help="rating events JSONL (default: stdin)")
    parser.add_argument("--cases", help="case events JSONL, loaded first to build each case's timeline")
    add_calendar_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    parser.set_defaults(run=run)


def add_calendar_option(parser: argparse.ArgumentParser) -> None:
    """--outside-calendar, shared with `hcp backtest`."""
    parser.add_argument(
        "--outside-calendar",
        choices=("error", "weekdays"),
        default="error",
        help="dates the holiday calendar does not cover: stop with an error naming them (default), or count "
        "Mon-Fri there as the stream worker does, with a summary of the dates on stderr",
    )


def outside_message(command: str, subject: str, dates: DateRange, calendar: WorkCalendar, counted: bool) -> str:
    """The summary line of `hcp trace`/`hcp backtest` about dates outside the holiday calendar."""
    where = f"{dates}, outside the {calendar.name}"
    if calendar.covers is not None:
        where += f" ({calendar.covers.years}, {calendar.source})"
    if counted:
        return f"{command}: {subject} measured Mon-Fri on {where}, as the stream worker does; {UPGRADE_HINT}"
    return (
        f"{command}: {subject} not traced, measured on {where}: pass --outside-calendar weekdays to count "
        f"Mon-Fri there as the stream worker does, or {UPGRADE_HINT}"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from haochaping.catalog import default_catalog
    from haochaping.decoding import Rejection, decode_event
    from haochaping.events import CaseEvent
    from haochaping.timeline import CaseTimeline
    from haochaping.tracing import prepare, trace

    catalog = default_catalog()
    calendar = settings.calendar
    counted = args.outside_calendar == "weekdays"
    timelines: dict[str, CaseTimeline] = {}
    invalid = 0
    outside = 0  # ratings whose case was measured on dates the calendar does not cover
    outside_dates: DateRange | None = None

    def add_case_event(event: CaseEvent) -> None:
        timeline = timelines.get(event.case_id)
        if timeline is None:
            timeline = timelines[event.case_id] = CaseTimeline(event.case_id, event.matter_code, event.mode)
        timeline.add(event)

    def report(name: str, number: int, reason: str) -> None:
        nonlocal invalid
        invalid += 1
        print(f"{name}:{number}: {reason}", file=sys.stderr)

    started = time.perf_counter()
    if args.cases:
        with open(args.cases, "rb") as cases:
            for number, line in _lines(cases):
                decoded = decode_event(line)
                if isinstance(decoded, Rejection):
                    report(args.cases, number, decoded.reason)
                elif isinstance(decoded, CaseEvent):
                    add_case_event(decoded)
    prepare()  # the vocabulary is compiled with the loading, not counted as tracing
    loaded = time.perf_counter()
    traced = 0
    out = sys.stdout
    source = sys.stdin.buffer if args.ratings == "-" else open(args.ratings, "rb")  # noqa: SIM115
    name = "stdin" if args.ratings == "-" else args.ratings
    with source:
        for number, line in _lines(source):
            decoded = decode_event(line)
            if isinstance(decoded, Rejection):
                report(name, number, decoded.reason)
            elif isinstance(decoded, CaseEvent):
                if not args.cases:  # a mixed file: case events build timelines as they come
                    add_case_event(decoded)
            else:
                timeline = timelines.get(decoded.case_id) if decoded.case_id is not None else None
                try:
                    attribution = trace(decoded, timeline, catalog, calendar, strict_calendar=True)
                except CalendarNotCovered as error:
                    outside += 1
                    outside_dates = error.dates.union(outside_dates)
                    if not counted:
                        print(f"{name}:{number}: rating {decoded.rating_id} not traced: {error}", file=sys.stderr)
                        continue
                    attribution = trace(decoded, timeline, catalog, calendar)  # the stream's answer
                _write(out, attribution.to_wire())
                traced += 1
    out.flush()
    finished = time.perf_counter()
    if not args.quiet:
        tracing = finished - loaded
        rate = traced / tracing if tracing > 0 else 0.0
        print(
            f"trace: {traced:,} ratings attributed, {invalid:,} invalid lines, {len(timelines):,} case timelines; "
            f"case events loaded in {loaded - started:.2f} s, "
            f"ratings traced in {tracing:.2f} s ({rate:,.0f} ratings/s)",
            file=sys.stderr,
        )
    if outside_dates is not None:
        subject = f"{outside:,} rating{'s' if outside != 1 else ''}"
        print(outside_message("trace", subject, outside_dates, calendar, counted), file=sys.stderr)
        if not counted:
            return 2
    return 0


def _lines(stream: IO[bytes]) -> Iterable[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        line = line.strip()
        if line:
            yield number, line


def _write(out: IO[str], wire: dict[str, Any]) -> None:
    out.write(json.dumps(wire, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
