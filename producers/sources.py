"""Reads the worker's source partitions directly (kafka-python): where the group starts, and records by offset.

The ingest agent asks here when Faust's stream hands it a partition's records with a hole in them
(records Faust's fetcher skipped around a rebalance): it reads the missing offsets itself, in order,
instead of seeking Faust's consumer. Blocking calls: the agent runs them in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from haochaping.ingest import Message
from haochaping.settings import Settings
from producers.security import kafka_client

log = logging.getLogger(__name__)

SourcePartition = tuple[str, int]
POLL_MS = 1_000
MAX_EMPTY_POLLS = 10  # a range Kafka no longer holds (deleted by retention) is given up after ~10 s


class SourceReader:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._consumer: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None

    def committed(self, partitions: Collection[SourcePartition]) -> dict[SourcePartition, int | None]:
        """The consumer group's committed offset of each partition (None: never committed)."""
        group = self._settings.consumer_group
        marks = self._admin_client().list_group_offsets(group).get(group, {})
        found: dict[SourcePartition, int | None] = {}
        for topic, partition in partitions:
            mark = marks.get(TopicPartition(topic, partition))
            found[(topic, partition)] = mark.offset if mark is not None and mark.offset >= 0 else None
        return found

    def read(self, partition: SourcePartition, start: int, stop: int) -> list[Message]:
        """The records of `partition` with offsets in [start, stop), in order (fewer if some no longer exist)."""
        consumer = self._reader()
        tp = TopicPartition(*partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        found: list[Message] = []
        empty_polls = 0
        position = start
        while position < stop and empty_polls < MAX_EMPTY_POLLS:
            records = consumer.poll(timeout_ms=POLL_MS, max_records=max(1, min(10_000, stop - position)))
            batch = records.get(tp, [])
            if not batch:
                empty_polls += 1
                continue
            for record in batch:
                if record.offset >= stop:
                    break
                found.append(Message(tp.topic, tp.partition, record.offset, record.key, record.value))
            position = batch[-1].offset + 1
        if position < stop:
            log.error("%s[%d]: offsets %d..%d could not be read from Kafka", *partition, position, stop - 1)
        return found

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
        if self._admin is not None:
            self._admin.close()

    def _reader(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = kafka_client(
                KafkaConsumer,
                self._settings,
                client_id="hcp-source-reader",
                group_id=None,
                enable_auto_commit=False,
                max_partition_fetch_bytes=4 << 20,
            )
        return self._consumer

    def _admin_client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = kafka_client(KafkaAdminClient, self._settings, client_id="hcp-source-reader")
        return self._admin
