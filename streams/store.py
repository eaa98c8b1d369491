"""Storing one ingest batch: dead letters and attributions on their topics, rows in ClickHouse, in order.

StorePipeline lets the agent process the next batch while one is stored; batches are stored, and
their records acknowledged, strictly one after the other (streams/ingest.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import faust

from haochaping.ingest import IngestBatch
from sinks.writer import ClickHouseWriter
from streams.repair import Sorted
from streams.retry import until_written

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Processed:
    """A batch as the core left it, with what must be on Kafka before its records are acknowledged."""

    batch: IngestBatch
    changelog: list[Awaitable[object]]  # timeline and parked-rating writes
    progress: dict[int, float | None]  # per owned partition, for the detectors' watermark
    repairs: Sorted = field(default_factory=Sorted)  # records to copy to their right partition, copies taken


class StorePipeline:
    """Stores one batch while the next is processed; batches are stored and acknowledged strictly in order."""

    def __init__(self, store: Callable[[Processed], Awaitable[None]]) -> None:
        self._store = store
        self._pending: asyncio.Task[None] | None = None

    async def submit(self, processed: Processed, acknowledge: Callable[[], Awaitable[None]] | None = None) -> None:
        """Store `processed` in the background, then run `acknowledge`; waits for the previous batch first."""
        await self.drain()
        self._pending = asyncio.ensure_future(self._store_then(processed, acknowledge))

    async def _store_then(self, processed: Processed, acknowledge: Callable[[], Awaitable[None]] | None) -> None:
        await self._store(processed)
        if acknowledge is not None:
            await acknowledge()

    @property
    def storing(self) -> bool:
        return self._pending is not None and not self._pending.done()

    async def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending  # re-raises a failed store: the agent stops the worker


async def send_dead_letters(deadletter: faust.TopicT, batch: IngestBatch) -> None:
    pending = []
    for letter in batch.dead_letters:
        message = letter.message
        log.warning("dead letter from %s[%d]@%d: %s", message.topic, message.partition, message.offset, letter.reason)
        headers = [
            ("hcp-reason", letter.reason.encode("utf-8")),
            ("hcp-source-topic", message.topic.encode()),
            ("hcp-source-partition", str(message.partition).encode()),
            ("hcp-source-offset", str(message.offset).encode()),
        ]
        pending.append(await deadletter.send(key=message.key, value=message.value, headers=headers))
    if pending:
        await asyncio.gather(*pending)  # delivered before the source offsets are acknowledged


async def publish_attributions(topic: faust.TopicT, batch: IngestBatch) -> None:
    pending = [await topic.send(key=traced.key, value=traced.encode()) for traced in batch.attributions]
    if pending:
        await asyncio.gather(*pending)


async def write_until_stored(writer: ClickHouseWriter, batch: IngestBatch) -> None:
    started = time.perf_counter()
    inserted = await until_written(functools.partial(writer.write, batch.rows), "the batch's rows")
    log.debug("wrote %s in %.0f ms", inserted, (time.perf_counter() - started) * 1000)
