"""Creates the pipeline's topics and checks that every source topic is co-partitioned.

Ratings are joined with their case's timeline inside one worker, so the shared ratings
topic, the case-events topic and every province's portal rating topic must have the same
partition count and the same key (the case id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from haochaping.settings import Settings
from producers.security import kafka_client
from producers.security import kafka_security as kafka_security  # where the adapters used to import it

log = logging.getLogger(__name__)

# Dead letters and attributions are not joined, so fewer partitions suffice.
# Alerts and dead letters: one partition, in order. Observations are partitioned by step.
_PARTITIONED = ("ratings", "cases", "attributions", "observations")


class TopicLayoutError(RuntimeError):
    pass


def admin_client(settings: Settings) -> KafkaAdminClient:
    return kafka_client(KafkaAdminClient, settings, client_id="hcp-admin")


def ensure_topics(settings: Settings) -> dict[str, int]:
    """Create missing topics; return partitions per topic; refuse a layout that breaks the join."""
    admin = admin_client(settings)
    try:
        wanted = {name: (settings.partitions if role in _PARTITIONED else 1) for role, name in settings.topics.items()}
        wanted.update({name: settings.partitions for name in settings.province_topics.values()})
        existing = set(admin.list_topics())
        to_create = [NewTopic(name, count, 1) for name, count in wanted.items() if name not in existing]
        if to_create:
            try:
                admin.create_topics(to_create)
                log.info("created topics %s", ", ".join(topic.name for topic in to_create))
            except TopicAlreadyExistsError:
                pass  # another process created them between our list and create
        counts = partition_counts(admin, list(wanted))
    finally:
        admin.close()
    check_co_partitioned(settings, counts)
    return counts


def partition_counts(admin: KafkaAdminClient, topics: list[str], wait_seconds: float = 30.0) -> dict[str, int]:
    """Partitions per topic; right after creation the metadata may still list none, so ask again."""
    deadline = time.monotonic() + wait_seconds
    while True:
        counts = {topic["name"]: len(topic["partitions"]) for topic in admin.describe_topics(topics)}
        if all(counts.get(topic, 0) > 0 for topic in topics) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def check_co_partitioned(settings: Settings, counts: Mapping[str, int]) -> None:
    ratings, cases = settings.topics["ratings"], settings.topics["cases"]
    if counts.get(ratings) != counts.get(cases):
        raise TopicLayoutError(
            f"{ratings} has {counts.get(ratings)} partitions but {cases} has {counts.get(cases)}: "
            "ratings and case events must be co-partitioned (same key, same partition count) "
            "for the timeline join; repartition one of them before starting the worker"
        )
    if counts.get(ratings) != settings.partitions:
        raise TopicLayoutError(
            f"{ratings} has {counts.get(ratings)} partitions but HCP_PARTITIONS is {settings.partitions}: "
            "the case-timeline table's changelog must match the source topics; set HCP_PARTITIONS to "
            f"{counts.get(ratings)}"
        )
    for topic in settings.province_topics.values():
        # Faust assigns partition p of every source topic to one worker only when their counts are equal.
        if counts.get(topic) != counts.get(cases):
            raise TopicLayoutError(
                f"{topic} has {counts.get(topic)} partitions but {cases} has {counts.get(cases)}: "
                "every portal rating topic must be co-partitioned with the case events (same key, same "
                "partition count) for the timeline join; repartition it before starting the worker"
            )
