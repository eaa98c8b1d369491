"""The ingest agent's stall watchdog: a partition Faust stopped delivering or committing is read again.

Only Faust's public consumer interface (highwater, seek); the committed offsets come from the
group through kafka-python (producers/sources.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import faust
from faust.types import TP, EventT

from producers.sources import SourcePartition, SourceReader
from streams.offsets import PartitionOrder

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0  # a partition with lag and nothing delivered for this long is read again
T = TypeVar("T")


async def until_read(read: Callable[[], T], what: str, attempts: int = 20) -> T:
    """Run a blocking Kafka read in a thread, retrying failures with back-off; gives up by raising."""
    backoff = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.to_thread(read)
        except Exception as error:
            if attempt == attempts:
                raise
            log.error("reading %s from Kafka failed (%r); retrying in %.1f s", what, error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
    raise AssertionError("unreachable")


class StallWatchdog:
    """Puts Faust's consumer back on a partition it stopped delivering or committing (public seek only).

    Faust's fetcher can move its read position past records it never delivered (a fetch in flight
    while a rebalance seeks to the committed offsets), and then drops them as already read: the
    partition has lag but nothing arrives. And a commit that lands during that seek can leave Faust's
    own record of the committed offset behind the acknowledgements, after which it never commits the
    partition again. Both are seen from outside: no record of a partition with lag for a whole
    check interval, or a committed offset that stands still behind what the agent has processed.
    The agent then seeks the partition to where it must be read again; what comes twice is a
    duplicate, acknowledged and skipped.
    """

    def __init__(
        self,
        app: faust.App,
        order: PartitionOrder[EventT[bytes]],
        reader: SourceReader,
        source_topics: frozenset[str],
        on_stall: Callable[[], None],
    ) -> None:
        self._app, self._order, self._reader = app, order, reader
        self._source_topics = source_topics
        self._on_stall = on_stall
        self._seen: set[SourcePartition] = set()  # partitions with a record since the last check
        self._acked: dict[SourcePartition, int] = {}  # next offset after the last one acknowledged
        self._committed_before: dict[SourcePartition, int | None] = {}

    def arrived(self, events: Sequence[EventT[bytes]]) -> None:
        self._seen.update((event.message.topic, event.message.partition) for event in events)

    def acknowledged(self, events: Sequence[EventT[bytes]]) -> None:
        for event in events:
            key = (event.message.topic, event.message.partition)
            self._acked[key] = max(self._acked.get(key, 0), event.message.offset + 1)

    async def check(self) -> None:
        app = self._app
        if app.rebalancing:
            self._committed_before.clear()
            self._acked.clear()  # acknowledgements before a rebalance may be discarded by it
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self._source_topics]
        keys = [(tp.topic, tp.partition) for tp in owned]
        committed = await until_read(functools.partial(self._reader.committed, keys), "committed offsets")
        seen, self._seen = self._seen, set()
        for tp, key in zip(owned, keys, strict=True):
            taken, end = self._order.expected(key), app.consumer.highwater(tp)
            if taken is None or end is None:
                continue
            before, now = self._committed_before.get(key), committed.get(key)
            if end > taken and key not in seen:
                log.warning(
                    "%s[%d]: %d records in Kafka after %d, none delivered; reading from there again",
                    *key,
                    end - taken,
                    taken,
                )
                await self._seek(tp, taken)
            elif now is not None and now == before and now < self._acked.get(key, 0):
                # Faust commits acknowledged offsets every second; still here after a whole interval.
                log.warning(
                    "%s[%d]: commits stopped at %d, %d acknowledged; reading from there again",
                    *key,
                    now,
                    self._acked[key],
                )
                await self._seek(tp, now)
        self._committed_before = committed

    async def _seek(self, tp: TP, offset: int) -> None:
        self._on_stall()
        await self._app.consumer.seek(tp, offset)
