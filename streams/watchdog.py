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
    partition again. Both are seen from outside: nothing at all delivered for a whole check interval
    (after something was) while a partition has lag, or a committed offset that stands still behind
    what the agent has acknowledged. The watchdog then seeks the partition, in the consumer's own
    thread (`seek_wait`: a seek from the event loop races the fetcher), to where it must be read
    again; what comes twice is a duplicate, acknowledged and skipped. A partition starved while
    others flow is not taken for a stall (a backlog delivers partitions unevenly).
    """

    def __init__(
        self,
        app: faust.App,
        order: PartitionOrder[EventT[bytes]],
        reader: SourceReader,
        source_topics: frozenset[str],
        on_stall: Callable[[], None],
        storing: Callable[[], bool],
    ) -> None:
        self._app, self._order, self._reader = app, order, reader
        self._source_topics = source_topics
        self._on_stall = on_stall
        self._storing = storing  # a batch still being stored (e.g. ClickHouse down): not a stall
        self._seen: set[SourcePartition] = set()  # partitions with a record since the last check
        self._delivering = False  # records arrived since the last rebalance
        self._acked: dict[SourcePartition, int] = {}  # next offset after the last one acknowledged
        self._committed_before: dict[SourcePartition, int | None] = {}

    def arrived(self, events: Sequence[EventT[bytes]]) -> None:
        self._seen.update((event.message.topic, event.message.partition) for event in events)
        self._delivering = True

    def acknowledged(self, events: Sequence[EventT[bytes]]) -> None:
        for event in events:
            key = (event.message.topic, event.message.partition)
            self._acked[key] = max(self._acked.get(key, 0), event.message.offset + 1)

    async def check(self) -> None:
        app = self._app
        if self._storing():  # waiting for ClickHouse: nothing can be judged over this interval
            self._seen.add(("", -1))
            self._committed_before.clear()
            return
        if app.rebalancing:
            self._committed_before.clear()
            self._acked.clear()  # acknowledgements before a rebalance may be discarded by it
            self._delivering = False
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self._source_topics]
        keys = [(tp.topic, tp.partition) for tp in owned]
        committed = await until_read(functools.partial(self._reader.committed, keys), "committed offsets")
        seen, self._seen = self._seen, set()
        never = [tp for tp, key in zip(owned, keys, strict=True) if self._order.expected(key) is None]
        earliest: dict[TP, int] = {}
        ends: dict[TP, int] = {}
        if never and not seen and self._delivering:  # asked of the broker: Faust may not fetch them at all
            earliest = dict(await app.consumer.earliest_offsets(*never))
            ends = dict(await app.consumer.highwaters(*never))
        for tp, key in zip(owned, keys, strict=True):
            taken: int | None = self._order.expected(key)
            end: int | None = app.consumer.highwater(tp)
            if taken is None and tp in earliest:  # nothing of it delivered since the assignment
                taken, end = max(committed.get(key) or 0, earliest[tp]), ends.get(tp)
            if taken is None or end is None:
                continue
            before, now = self._committed_before.get(key), committed.get(key)
            if end > taken and not seen and self._delivering:
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
        await self._app.consumer.seek_wait({tp: offset})
