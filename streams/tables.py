"""Writes to Faust tables with an explicit changelog partition, and knows when the writes are on Kafka.

Faust's default picks the partition from the current event or the producer's partitioner,
which needs topic metadata the producer may not have yet. The worker knows the partition:
a timeline or a parked rating lives with its source partition, a detector with its observations
partition. Faust's commit does not wait for buffered changelog writes (its flush gives up after
0.1 s without progress), so the agents await `delivered()` before acknowledging the source records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiokafka.partitioner import murmur2
from faust.types import TableT


class PartitionedTable:
    """A Faust table seen as a TimelineStore: get by key, put with the partition."""

    def __init__(self, table: TableT[bytes, bytes | None]) -> None:
        self._table = table
        self._in_flight: list[Awaitable[object]] = []

    def get(self, key: bytes) -> bytes | None:
        value = self._table.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        self._in_flight.append(put(self._table, key, value, partition))

    def items(self) -> list[tuple[bytes, bytes]]:
        return [(key, value) for key, value in self._table.items() if isinstance(value, bytes)]

    def delete(self, key: bytes, partition: int) -> None:
        self._table.data.pop(key, None)
        self._in_flight.append(self._table.send_changelog(partition, key, None, value_serializer="raw"))

    def in_flight(self) -> list[Awaitable[object]]:
        """The changelog writes sent since last asked (to await before acknowledging what caused them)."""
        sent, self._in_flight = self._in_flight, []
        return sent


def put(table: TableT[bytes, bytes | None], key: bytes, value: bytes, partition: int) -> Awaitable[object]:
    """Set `key` in the local store and send it to its changelog partition; returns the delivery."""
    table.data[key] = value  # the local store, as Table.__setitem__ does
    return table.send_changelog(partition, key, value)


async def delivered(writes: list[Awaitable[object]]) -> None:
    if writes:
        await asyncio.gather(*writes)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (kafka-python, aiokafka, Java) gives a key."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions
