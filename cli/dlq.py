"""`hcp dlq`: list the dead letters, or replay them after the cause is fixed."""

from __future__ import annotations

import argparse
import sys

from cli import Subcommands
from haochaping.settings import Settings

PREVIEW_CHARS = 80


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "dlq",
        help="list or replay dead letters (invalid messages)",
        description="Dead letters keep their original bytes, the reason and their source topic, partition and "
        "offset. `list` shows them; `replay` decodes each again with the current code and sends the ones "
        "that are now valid back to their source topic (each at most once).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="show dead letters with their reasons")
    listing.add_argument("--limit", type=int, default=50, help="show at most this many (default 50)")
    replay = actions.add_parser("replay", help="send now-valid dead letters back to their source topic")
    replay.add_argument("--dry-run", action="store_true", help="only say what would be replayed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from haochaping.privacy import mask_personal_data
    from producers.deadletters import read_dead_letters, replay_dead_letters

    if args.action == "list":
        shown = 0
        for letter in read_dead_letters(settings):
            if shown >= args.limit:
                print(f"… more not shown (--limit {args.limit})")
                break
            value = letter.value or b""
            preview = mask_personal_data(value[:PREVIEW_CHARS].decode("utf-8", "replace"))
            size = "null value" if letter.value is None else f"{len(value)} bytes"
            print(
                f"#{letter.offset} from {letter.source_topic}[{letter.source_partition}]@{letter.source_offset} "
                f"({size}): {letter.reason}\n    {preview!r}"
            )
            shown += 1
        if shown == 0:
            print("no dead letters")
        return 0
    report, problems = replay_dead_letters(settings, dry_run=args.dry_run)
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {report.replayed} dead letters; {report.still_invalid} are still invalid", file=sys.stderr)
    for offset, reason in problems[:20]:
        print(f"  #{offset}: {reason}", file=sys.stderr)
    return 0
