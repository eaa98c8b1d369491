"""The worker's committed positions in its input topics, kept in a consumer group of their own (kafka-python).

The agents commit here after each stored batch instead of through Faust's commit tracker
(streams/positions.py); lag tools read the group like any other. Blocking calls: the agents run
them in a thread.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.structs import OffsetAndMetadata

from haochaping.settings import Settings
from producers.security import kafka_client

SourcePartition = tuple[str, int]


class PositionStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._committer: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None

    def committed(self, partitions: Collection[SourcePartition]) -> dict[SourcePartition, int | None]:
        """The committed position of each partition (None: never committed).

        Falls back to the worker group's own offsets, where releases before the positions group
        committed, so an upgrade resumes where it stopped.
        """
        settings = self._settings
        own = self._group_offsets(settings.positions_group)
        legacy = self._group_offsets(settings.consumer_group)
        return {key: own.get(key, legacy.get(key)) for key in partitions}

    def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        """Commit `positions` (the next offset to process per partition) for the whole group."""
        if positions:
            offsets = {TopicPartition(*key): OffsetAndMetadata(offset, "", -1) for key, offset in positions.items()}
            self._client().commit(offsets)

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
        if self._admin is not None:
            self._admin.close()

    def _group_offsets(self, group: str) -> dict[SourcePartition, int]:
        marks = self._admin_client().list_group_offsets(group).get(group, {})
        return {(tp.topic, tp.partition): mark.offset for tp, mark in marks.items() if mark.offset >= 0}

    def _client(self) -> KafkaConsumer:
        # Never subscribes, so it never joins the group: its commits carry no generation, which
        # Kafka accepts for a group without members.
        if self._committer is None:
            self._committer = kafka_client(
                KafkaConsumer,
                self._settings,
                client_id="hcp-positions",
                group_id=self._settings.positions_group,
                enable_auto_commit=False,
            )
        return self._committer

    def _admin_client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = kafka_client(KafkaAdminClient, self._settings, client_id="hcp-positions")
        return self._admin
