"""Writes to Faust tables with an explicit changelog partition.

Faust's default picks the partition from the current event or the producer's partitioner,
which needs topic metadata the producer may not have yet. The worker knows the partition:
a timeline lives with its case's source partition; the detector state on partition 0.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2
from faust.types import TableT


class PartitionedTable:
    """A Faust table seen as a TimelineStore: get by key, put with the partition."""

    def __init__(self, table: TableT) -> None:
        self._table = table

    def get(self, key: bytes) -> bytes | None:
        value = self._table.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        put(self._table, key, value, partition)

    def items(self) -> list[tuple[bytes, bytes]]:
        return list(self._table.items())

    def delete(self, key: bytes, partition: int) -> None:
        self._table.data.pop(key, None)
        self._table.send_changelog(partition, key, None, value_serializer="raw")


def put(table: TableT, key: bytes, value: bytes, partition: int) -> None:
    table.data[key] = value  # the local store, as Table.__setitem__ does
    table.send_changelog(partition, key, value)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (kafka-python, aiokafka, Java) gives a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
