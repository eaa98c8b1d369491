"""`hcp worker`: run the streaming worker (Faust) until interrupted."""

from __future__ import annotations

import argparse

from cli import Subcommands
from haochaping.settings import Settings


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "worker",
        help="run the stream worker: Kafka → validate → ClickHouse",
        description="Consume ratings and case events, dead-letter invalid messages, write the rest to "
        "ClickHouse in batches; offsets are committed only after ClickHouse holds the batch. "
        "In embedded mode (chdb://) the worker owns the ClickHouse directory while it runs.",
    )
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker  # imports faust only when a worker is wanted

    run_worker(settings, loglevel=args.loglevel)
    return 0
