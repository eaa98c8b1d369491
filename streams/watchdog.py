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

from producers.sources import SourceReader

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
    """Puts Faust's consumer back on its committed offsets when a partition's lag stands still (public API).

    Seen in the two-worker tests: Faust's fetcher can move its read position past records it never
    delivered (a fetch in flight while a rebalance seeks to the committed offsets) and then drop
    them as already read; and a commit that fails around a rebalance is still recorded by Faust as
    made, after which it ignores acknowledgements below it and the partition's committed offset
    never moves again unless new records come. Both look the same from outside: the worker is
    idle (nothing delivered over a whole check interval, no batch being stored) while a partition
    has lag and its committed offset has not moved since the previous check. The watchdog then
    asks Faust to seek every partition to its committed offset (`Consumer.perform_seek`, which also
    reloads Faust's own record of them): the uncommitted records come again, the agent acknowledges
    what it has already processed as duplicates and processes the rest, and Faust commits.
    """

    def __init__(
        self,
        app: faust.App,
        reader: SourceReader,
        source_topics: frozenset[str],
        on_stall: Callable[[], None],
        storing: Callable[[], bool],
    ) -> None:
        self._app, self._reader = app, reader
        self._source_topics = source_topics
        self._on_stall = on_stall
        self._storing = storing  # a batch still being stored (e.g. ClickHouse down): not a stall
        self._active = False  # records arrived since the last check
        self._lag_before: dict[TP, tuple[int, int]] = {}  # partition -> (committed, end) at the last check

    def arrived(self, events: Sequence[EventT[bytes]]) -> None:
        if events:
            self._active = True

    async def check(self) -> None:
        app = self._app
        active, self._active = self._active, False
        if active or self._storing() or app.rebalancing:
            self._lag_before.clear()
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self._source_topics]
        if not owned:
            return
        keys = [(tp.topic, tp.partition) for tp in owned]
        committed = await until_read(functools.partial(self._reader.committed, keys), "committed offsets")
        ends = await app.consumer.highwaters(*owned)  # asked of the broker: Faust may not fetch them at all
        earliest = await app.consumer.earliest_offsets(*owned)
        lag: dict[TP, tuple[int, int]] = {}
        for tp, key in zip(owned, keys, strict=True):
            start = max(committed.get(key) or 0, earliest.get(tp, 0))
            end = ends.get(tp)
            if end is not None and end > start:
                lag[tp] = (start, end)
        stuck = {tp: spot for tp, spot in lag.items() if self._lag_before.get(tp) == spot}
        self._lag_before = lag
        if stuck:
            described = ", ".join(f"{tp.topic}[{tp.partition}] {start}..{end}" for tp, (start, end) in stuck.items())
            log.warning("idle with lag that does not move (%s); reading again from the committed offsets", described)
            self._on_stall()
            self._lag_before.clear()
            await app.consumer.perform_seek()
