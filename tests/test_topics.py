"""The worker refuses a topic layout that would break the local timeline join."""

from __future__ import annotations

import pytest

from haochaping.settings import Settings
from producers.topics import TopicLayoutError, check_co_partitioned


def _counts(settings: Settings, count: int) -> dict[str, int]:
    return {topic: count for topic in settings.source_topics}


def test_same_partition_counts_pass() -> None:
    settings = Settings(partitions=4)
    check_co_partitioned(settings, _counts(settings, 4))
    check_co_partitioned(Settings(partitions=4, portal_topics=False), {"hcp.ratings": 4, "hcp.case-events": 4})


def test_a_portal_topic_with_another_partition_count_is_refused() -> None:
    settings = Settings(partitions=4)
    counts = {**_counts(settings, 4), "hcp.ratings.330000": 6}
    with pytest.raises(TopicLayoutError, match=r"hcp\.ratings\.330000 has 6 partitions but hcp\.case-events has 4"):
        check_co_partitioned(settings, counts)
    del counts["hcp.ratings.330000"]  # missing: the worker refuses too
    with pytest.raises(TopicLayoutError, match=r"hcp\.ratings\.330000 has None partitions"):
        check_co_partitioned(settings, counts)


def test_different_partition_counts_are_refused() -> None:
    with pytest.raises(TopicLayoutError, match=r"hcp\.ratings has 4 partitions but hcp\.case-events has 6"):
        check_co_partitioned(Settings(partitions=4), {"hcp.ratings": 4, "hcp.case-events": 6})


def test_table_partitions_must_match_topics() -> None:
    with pytest.raises(TopicLayoutError, match="set HCP_PARTITIONS to 8"):
        check_co_partitioned(Settings(partitions=4), {"hcp.ratings": 8, "hcp.case-events": 8})
