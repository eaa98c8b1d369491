"""`hcp contracts`: the JSON Schemas of the wire contracts, written to docs/schemas/ or printed.

Thin wrapper over haochaping/contracts.py; tests/test_contracts.py fails when the committed files differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import Subcommands
from haochaping.settings import Settings

DEFAULT_DIRECTORY = Path("docs/schemas")


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "contracts",
        help="write the JSON Schemas of the wire contracts (docs/schemas/) or print one",
        description="Generate the JSON Schemas (draft 2020-12) of the wire contracts: hcp.rating-1.json and "
        "hcp.case-1.json from the pydantic models the worker validates with, hcp.attribution-1.json for what it "
        "publishes on the attributions topic. Portals and office systems validate against them; topics, keys, "
        "partitioning, headers and codes are in docs/contracts.md. Needs no Kafka or ClickHouse.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hcp contracts                      # (re)write docs/schemas/*.json, run from the repository root\n"
        "  hcp contracts --check              # exit 1 if docs/schemas/ differs from the models\n"
        "  hcp contracts --print rating > hcp.rating-1.json",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_DIRECTORY,
        metavar="DIR",
        help=f"directory of the schema files (default {DEFAULT_DIRECTORY}/, relative to the current directory)",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--print",
        dest="show",
        choices=("rating", "case", "attribution"),
        help="print one schema to stdout instead of writing files",
    )
    action.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the files that are missing or differ",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from haochaping import contracts

    if args.show is not None:
        sys.stdout.write(contracts.render(contracts.SCHEMAS[args.show]()))
        return 0
    directory: Path = args.out
    wanted = contracts.rendered()
    if args.check:
        stale = [name for name, text in wanted.items() if _read(directory / name) != text]
        for name in stale:
            print(f"hcp contracts: {directory / name} differs from the models (run `hcp contracts`)", file=sys.stderr)
        return 1 if stale else 0
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        path = directory / name
        changed = _read(path) != text
        if changed:
            path.write_text(text, encoding="utf-8")
        print(f"{path}: {'written' if changed else 'unchanged'}")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
