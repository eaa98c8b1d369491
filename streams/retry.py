"""Blocking calls from the stream agents, in a thread, with back-off: ClickHouse writes and Kafka reads.

A write is retried until it works: nothing of the batch is committed meanwhile, so waiting is
always safe and the lag shows it. A Kafka call gives up after a number of attempts.
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


async def until_read(read: Callable[[], T], what: str, attempts: int = 20) -> T:
    """Run a blocking Kafka call in a thread, retrying failures with back-off; gives up by raising."""
    backoff = FIRST_BACKOFF_SECONDS
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.to_thread(read)
        except Exception as error:
            if attempt == attempts:
                raise
            log.error("%s failed (%r); retrying in %.1f s", what, error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
    raise AssertionError("unreachable")
