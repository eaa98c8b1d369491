"""The worker refuses a topic layout that would break the local timeline join."""

from __future__ import annotations

import pytest

from haochaping.settings import Settings
from producers.topics import TopicLayoutError, check_co_partitioned


def test_same_partition_counts_pass() -> None:
    check_co_partitioned(Settings(partitions=4), {"hcp.ratings": 4, "hcp.case-events": 4})


def test_different_partition_counts_are_refused() -> None:
    with pytest.raises(TopicLayoutError, match=r"hcp\.ratings has 4 partitions but hcp\.case-events has 6"):
        check_co_partitioned(Settings(partitions=4), {"hcp.ratings": 4, "hcp.case-events": 6})


def test_table_partitions_must_match_topics() -> None:
    with pytest.raises(TopicLayoutError, match="set HCP_PARTITIONS to 8"):
        check_co_partitioned(Settings(partitions=4), {"hcp.ratings": 8, "hcp.case-events": 8})
