"""How far the worker's consumer group is behind the end of its input topics.

Offsets are committed only after ClickHouse holds the rows, so a lag of zero means
everything published so far is queryable.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from haochaping.settings import Settings
from producers.security import kafka_client


def consumer_lag(settings: Settings, attempts: int = 10) -> int:
    """Messages in the source topics (ratings, case events, portal ratings) past the worker's committed positions.

    Retries retriable broker errors (a coordinator not yet elected on a fresh broker).
    """
    for attempt in range(1, attempts + 1):
        try:
            return _consumer_lag(settings)
        except KafkaError as error:
            if not getattr(error, "retriable", False) or attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def _consumer_lag(settings: Settings) -> int:
    admin = kafka_client(KafkaAdminClient, settings, client_id="hcp-lag")
    try:
        consumer = kafka_client(KafkaConsumer, settings, client_id="hcp-lag")
    except BaseException:
        admin.close()
        raise
    try:
        # The admin's metadata request has a timeout; KafkaConsumer.partitions_for_topic was seen
        # to wait forever on a busy broker (a two-worker test hung in it).
        partitions = [
            TopicPartition(topic["name"], partition["partition_index"])
            for topic in admin.describe_topics(list(settings.source_topics))
            for partition in sorted(topic["partitions"], key=lambda described: described["partition_index"])
        ]
        ends = consumer.end_offsets(partitions)
        committed = admin.list_group_offsets(settings.positions_group).get(settings.positions_group, {})
        return sum(
            max(0, ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
            for tp in partitions
        )
    finally:
        consumer.close()
        admin.close()
