"""The `hcp` command line: one command, a subcommand per job.

Each subcommand module holds its argparse definition and a run function.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class Subcommands(Protocol):
    """What `add_parser(commands)` of a subcommand module receives: `ArgumentParser.add_subparsers()`."""

    def add_parser(self, name: str, **options: Any) -> argparse.ArgumentParser: ...
