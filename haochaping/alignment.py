"""Event-time alignment of the two co-partitioned inputs: case events before the ratings about them.

Ratings and case events arrive on separate topics. Live, each case's events come long
before its rating; after downtime or in a replay both topics hold a backlog and a plain
consumer reads them side by side, so ratings would be traced against timelines that are
not there yet. Like Kafka Streams' timestamp synchronisation, a ratings partition is held
back while its case-events partition still has unread events older than the ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _PartitionClock:
    cases: float | None = None  # newest case-event time processed (epoch seconds)
    ratings: float | None = None  # newest rating time processed
    held_since: float | None = None  # monotonic time the ratings were first held


@dataclass(slots=True)
class EventTimeAlignment:
    """Decides per partition whether to hold the ratings back; pure, the worker applies it."""

    max_hold_seconds: float = 30.0  # never starve ratings: a stuck case-events partition releases them
    _clocks: dict[int, _PartitionClock] = field(default_factory=dict)

    def saw_case_events(self, partition: int, latest: float) -> None:
        clock = self._clocks.setdefault(partition, _PartitionClock())
        clock.cases = latest if clock.cases is None else max(clock.cases, latest)

    def saw_ratings(self, partition: int, latest: float) -> None:
        clock = self._clocks.setdefault(partition, _PartitionClock())
        clock.ratings = latest if clock.ratings is None else max(clock.ratings, latest)

    def forget(self) -> None:
        """After a rebalance: partitions may belong to someone else now."""
        self._clocks.clear()

    def hold_ratings(self, partition: int, cases_caught_up: bool, now: float) -> bool:
        """True while the case events of this partition are behind and may still hold older events.

        Until any rating of the partition has been seen, "behind" means not caught up with the
        end of the case-events partition: a backlog is drained case events first.
        """
        clock = self._clocks.setdefault(partition, _PartitionClock())
        behind = not cases_caught_up and (clock.ratings is None or clock.cases is None or clock.cases < clock.ratings)
        if not behind:
            clock.held_since = None
            return False
        if clock.held_since is None:
            clock.held_since = now
        return now - clock.held_since < self.max_hold_seconds
