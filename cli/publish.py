"""`hcp publish FILE|-`: validate JSONL events and publish them to Kafka, reporting refusals."""

from __future__ import annotations

import argparse
import sys

from cli import Subcommands
from haochaping.settings import Settings

MAX_REFUSALS_SHOWN = 20


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "publish",
        help="publish JSONL rating/case events to Kafka",
        description='Read one JSON event per line (RatingEvent or CaseEvent, chosen by its "schema" field), '
        "validate it, and publish the valid ones keyed by case id. Invalid lines are reported with "
        "their line number and reason and are not sent.",
    )
    parser.add_argument("file", help="JSONL file, or - for standard input")
    parser.add_argument(
        "--relay",
        action="store_true",
        help="send ratings to the shared ratings topic (the national platform's trusted relay) instead of "
        "the portal topic of each rating's province",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from producers.publisher import Publisher
    from producers.topics import ensure_topics

    ensure_topics(settings)
    stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    with stream, Publisher(settings, relay=args.relay) as publisher:
        report = publisher.publish_lines(stream)
    print(
        f"sent {report.sent} events ({report.sent_ratings} ratings, {report.sent_case_events} case events); "
        f"refused {len(report.refused)}",
        file=sys.stderr,
    )
    for line, reason in report.refused[:MAX_REFUSALS_SHOWN]:
        print(f"  line {line}: {reason}", file=sys.stderr)
    if len(report.refused) > MAX_REFUSALS_SHOWN:
        print(f"  … and {len(report.refused) - MAX_REFUSALS_SHOWN} more", file=sys.stderr)
    return 1 if report.refused else 0
