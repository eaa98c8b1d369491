"""An agent's positions in the partitions it consumes: admitted in order, Faust's fetcher kept to them, committed.

Faust's commit tracker is turned off for these topics (acks=False): it stalled for good after its
fetcher skipped records around a rebalance. The agent commits its own positions instead
(producers/sources.py), only after a batch is stored, and seeks Faust's consumer (its public
`seek`) back to them whenever Faust hands over records from elsewhere (streams/offsets.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import faust
from aiokafka.errors import IllegalStateError
from faust.types import TP, EventT

from producers.sources import PositionStore, SourcePartition
from streams.offsets import Admission, PartitionOrder
from streams.retry import until_read

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PositionCounters:
    duplicates: int = 0  # records handed over again (already processed): discarded
    misplaced: int = 0  # records handed over past the expected offset: discarded, read again after a seek
    seeks: int = 0  # times Faust's consumer was put back on the agent's position
    absent: int = 0  # offsets confirmed missing from Kafka (retention, compaction, transaction markers)


class AgentPositions:
    def __init__(self, app: faust.App, store: PositionStore, name: str) -> None:
        self._app, self._store, self._name = app, store, name
        self.order: PartitionOrder[EventT[bytes]] = PartitionOrder(_location)
        self.counters = PositionCounters()

    async def admit(
        self, events: Sequence[EventT[bytes]], also: Iterable[SourcePartition] = ()
    ) -> Admission[EventT[bytes]]:
        """The batch's records to process, in order; seeks Faust back where it handed over others.

        `also`: partitions whose position the caller wants known as well (not in the batch).
        """
        await self.learn_starts({(event.message.topic, event.message.partition) for event in events} | set(also))
        admission = self.order.admit(events)
        counters = self.counters
        counters.duplicates += admission.duplicates
        counters.misplaced += admission.misplaced
        for gap in admission.absent:
            counters.absent += gap.stop - gap.start
            first, last = gap.start, gap.stop - 1
            log.warning("%s[%d]: offsets %d..%d are not in Kafka; going on after them", *gap.partition, first, last)
        if admission.seeks:
            await self.seek(admission.seeks)
        return admission

    async def seek(self, positions: Mapping[SourcePartition, int]) -> None:
        """Put Faust's consumer on these offsets (it reads from there again).

        `seek_wait` seeks in the consumer's own thread: `Consumer.seek` calls aiokafka from this
        one, which raced its fetcher (a KeyError in `fetched_records` crashed a worker). It also
        moves Faust's read position, except for offset 0; only `perform_seek` clears that (Faust
        would drop the re-read records as already read), so it comes first when 0 is wanted.
        """
        consumer = self._app.consumer
        assigned = consumer.assignment()
        wanted = {TP(*key): offset for key, offset in positions.items() if TP(*key) in assigned}
        if not wanted:
            return
        if 0 in wanted.values():
            await consumer.perform_seek()
        try:
            await consumer.seek_wait(wanted)
        except IllegalStateError as error:  # revoked meanwhile: its new owner starts from the commits
            log.info("%s: not sought (%s); a rebalance is under way", self._name, error)
            return
        self.counters.seeks += len(wanted)
        log.info("%s: Faust's consumer put back on %s", self._name, _described(positions))

    async def learn_starts(self, partitions: set[SourcePartition]) -> None:
        """Where to resume partitions new since the last assignment: the committed position, else the earliest."""
        unknown = self.order.unknown(partitions)
        if not unknown:
            return
        committed = await until_read(functools.partial(self._store.committed, unknown), "committed positions")
        earliest = await self._app.consumer.earliest_offsets(*(TP(*key) for key in unknown))
        # Kafka keeps no record below the earliest offset (retention): resume there.
        starts = {key: max(committed[key] or 0, earliest.get(TP(*key), 0)) for key in unknown}
        self.order.start(starts)
        log.info("%s: resuming %s", self._name, _described(starts))

    def taken(self, events: Iterable[EventT[bytes]]) -> dict[SourcePartition, int]:
        """The positions to commit once these records are stored (read at once: later batches move them)."""
        return self.order.positions({(event.message.topic, event.message.partition) for event in events})

    async def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        await until_read(functools.partial(self._store.commit, positions), "committing positions")

    def keep_only(self, assigned: Iterable[TP]) -> None:
        self.order.keep_only({(tp.topic, tp.partition) for tp in assigned})


def _location(event: EventT[bytes]) -> tuple[str, int, int]:
    raw = event.message
    return raw.topic, raw.partition, raw.offset


def _described(positions: Mapping[SourcePartition, int]) -> str:
    return ", ".join(f"{topic}[{partition}]@{offset}" for (topic, partition), offset in sorted(positions.items()))
