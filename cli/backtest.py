"""`hcp backtest`: run tracing and the spike detector over recorded events, alerts as JSON lines.

The same Ingestor and SpikeDetector as the stream worker, in event-time order, so analysts
can replay history and tune the detector's thresholds before changing the worker's.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import timedelta
from typing import IO, Any

from cli import Subcommands
from cli.trace import add_calendar_option, outside_message
from haochaping.holidays import UPGRADE_HINT
from haochaping.settings import Settings
from haochaping.workdays import CalendarNotCovered

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "backtest",
        help="replay recorded events through tracing and the spike detector (JSONL in, alerts out)",
        description="Read rating events (JSONL, case events may be mixed in) and optionally a file of case "
        "events, sort them into event-time order, trace them in batches with the stream worker's code and "
        "run the spike detector over the step observations. Prints one alert JSON line per firing or "
        "resolved alert on stdout; invalid lines are reported on stderr with their line number. Working days "
        "are counted on the official holiday calendar (HCP_HOLIDAY_CALENDAR); a date it does not cover stops "
        "the run with exit status 2, unless --outside-calendar weekdays counts Mon-Fri there as the stream "
        "worker does.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hcp simulate --count 2000000 --out history.jsonl \\\n"
        "      --incident province=340000,step=DATA_SHARE,start=2026-11-20T09:00:00+08:00,factor=3\n"
        "  hcp backtest history.jsonl > alerts.jsonl\n"
        "  hcp backtest --cases cases.jsonl --window 3h --alpha 1e-4 ratings.jsonl",
    )
    parser.add_argument("ratings", nargs="?", default="-", help="rating events JSONL (default: stdin)")
    parser.add_argument("--cases", help="case events JSONL, merged with the ratings in event-time order")
    tuning = parser.add_argument_group("detector (defaults: those of the stream worker)")
    tuning.add_argument("--window", type=_duration, help="window size, e.g. 1h, 6h, 1d (must divide a day)")
    tuning.add_argument("--lateness", type=_duration, help="allowed lateness, e.g. 30m")
    tuning.add_argument("--min-ratings", type=int, help="ratings a window needs to be tested on its own")
    tuning.add_argument("--min-negatives", type=float, help="weighted complaints an alert needs")
    tuning.add_argument("--min-ratio", type=float, help="rate / baseline an alert needs")
    tuning.add_argument("--trigger-alpha", type=float, help="significance that opens a pending alert")
    tuning.add_argument("--alpha", type=float, help="significance over the pending windows to fire")
    tuning.add_argument("--pending-windows", type=int, help="windows the rise must hold")
    tuning.add_argument("--overwhelming-alpha", type=float, help="significance that fires at once")
    tuning.add_argument("--cooldown-windows", type=int, help="quiet windows after a resolve")
    add_calendar_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from haochaping.alerts import DetectorConfig
    from haochaping.backtest import BacktestReport, backtest
    from haochaping.catalog import default_catalog

    changes = {
        name: value
        for name, value in (
            ("window", args.window),
            ("allowed_lateness", args.lateness),
            ("min_ratings", args.min_ratings),
            ("min_negatives", args.min_negatives),
            ("min_ratio", args.min_ratio),
            ("trigger_alpha", args.trigger_alpha),
            ("alpha", args.alpha),
            ("pending_windows", args.pending_windows),
            ("overwhelming_alpha", args.overwhelming_alpha),
            ("cooldown_windows", args.cooldown_windows),
        )
        if value is not None
    }
    try:
        config = DetectorConfig(**changes)
    except ValueError as error:
        print(f"hcp backtest: {error}", file=sys.stderr)
        return 2

    def invalid(name: str, number: int, reason: str) -> None:
        print(f"{name}:{number}: {reason}", file=sys.stderr)

    calendar = settings.calendar
    counted = args.outside_calendar == "weekdays"
    started = time.perf_counter()
    report = BacktestReport()
    out = sys.stdout
    source = sys.stdin.buffer if args.ratings == "-" else open(args.ratings, "rb")  # noqa: SIM115
    cases = open(args.cases, "rb") if args.cases else None  # noqa: SIM115
    try:
        names = {"ratings": "stdin" if args.ratings == "-" else args.ratings, "cases": args.cases or ""}
        for alert in backtest(
            source,
            cases,
            default_catalog(),
            config,
            report=report,
            on_invalid=lambda name, number, reason: invalid(names.get(name, name), number, reason),
            calendar=calendar,
            strict_calendar=not counted,
        ):
            _write(out, alert.to_wire())
    except CalendarNotCovered as error:
        out.flush()
        print(
            f"hcp backtest: stopped: {error}; pass --outside-calendar weekdays to count Mon-Fri there "
            f"as the stream worker does, or {UPGRADE_HINT}",
            file=sys.stderr,
        )
        return 2
    finally:
        source.close()
        if cases is not None:
            cases.close()
    out.flush()
    if not args.quiet:
        elapsed = time.perf_counter() - started
        print(
            f"backtest: {report.lines:,} lines ({report.ratings:,} ratings, {report.case_events:,} case events, "
            f"{report.invalid:,} invalid), {report.observations:,} step observations, {report.alerts:,} alerts, "
            f"{report.dropped_late:,} dropped late, {elapsed:.1f} s",
            file=sys.stderr,
        )
    if report.outside_dates is not None:
        subject = f"{report.outside_calendar:,} steps and rated timelines"
        print(outside_message("backtest", subject, report.outside_dates, calendar, counted), file=sys.stderr)
    return 0


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 6h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _write(out: IO[str], wire: dict[str, Any]) -> None:
    out.write(json.dumps(wire, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
