"""ClickHouse writes from the stream agents: on failure, back off and try again until it works.

Nothing of the batch is acknowledged meanwhile, so waiting is always safe; the lag shows it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0


async def until_written(write: Callable[[], T], what: str) -> T:
    """Run the blocking `write` in a thread until it returns; `what` names it in the log."""
    backoff = FIRST_BACKOFF_SECONDS
    while True:
        try:
            return await asyncio.to_thread(write)
        except Exception as error:  # any failure: nothing is acknowledged, try again
            log.error("ClickHouse write failed (%s); retrying %s in %.1f s", error, what, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
