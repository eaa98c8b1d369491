"""The agents' own record of where they are in each partition, and how Faust's fetcher is kept to it.

The agents keep (and commit, streams/positions.py) their own positions instead of Faust's commit
tracker, which stalled after its fetcher skipped records around a rebalance. A record below the
next expected offset is a duplicate; a record past it means Faust's fetcher is elsewhere: the agent
discards it and asks for a seek back to the expected offset. Only when a re-read from there starts
at the same record again, `CONFIRMATIONS` times, are the offsets between taken as absent from Kafka
(retention, compaction, transaction markers). Pure logic; the seeks are made by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

SourcePartition = tuple[str, int]  # (topic, partition)
T = TypeVar("T")
CONFIRMATIONS = 3  # re-reads that must start at the same record before a hole is believed


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets [start, stop) of a partition that Kafka does not hold (stop: the record after them)."""

    partition: SourcePartition
    start: int
    stop: int


@dataclass(slots=True)
class Admission(Generic[T]):
    """A batch sorted: records to process in order, what was discarded, and where Faust must seek."""

    fresh: list[T] = field(default_factory=list)
    duplicates: int = 0  # below the expected offset: already processed
    misplaced: int = 0  # past the expected offset: discarded until Faust reads from there again
    seeks: dict[SourcePartition, int] = field(default_factory=dict)  # partition -> offset to seek to
    absent: list[Gap] = field(default_factory=list)  # holes confirmed by re-reads


@dataclass(slots=True)
class _Realignment:
    first_seen: int | None  # the record past the expected offset that started it (None: a seek forward)
    confirmations: int = 0


class PartitionOrder(Generic[T]):
    """The next offset the agent expects per partition: where it resumed it, then what it processed."""

    def __init__(self, locate: Callable[[T], tuple[str, int, int]]) -> None:
        self._locate = locate  # record -> (topic, partition, offset)
        self._next: dict[SourcePartition, int] = {}
        self._realigning: dict[SourcePartition, _Realignment] = {}

    def unknown(self, partitions: Iterable[SourcePartition]) -> set[SourcePartition]:
        """Which of these partitions the agent has no start for yet (new since the last assignment)."""
        return {key for key in partitions if key not in self._next}

    def start(self, starts: dict[SourcePartition, int]) -> None:
        """Where the agent resumes newly assigned partitions (its committed position, else the earliest)."""
        for key, offset in starts.items():
            self._next.setdefault(key, offset)

    def admit(self, records: Iterable[T]) -> Admission[T]:
        """Sorts a batch; every partition in it must have a start (see `unknown`)."""
        admission: Admission[T] = Admission()
        expected = self._next
        for record in records:
            topic, partition, offset = self._locate(record)
            key = (topic, partition)
            want = expected[key]
            if offset == want or (offset > want and self._confirmed_hole(key, want, offset, admission)):
                admission.fresh.append(record)
                expected[key] = offset + 1
                self._realigning.pop(key, None)
            elif offset < want:
                admission.duplicates += 1
                state = self._realigning.get(key)
                if state is None or state.first_seen is None:  # Faust reads from further back: skip ahead
                    self._realigning[key] = _Realignment(None)
                    admission.seeks[key] = want
            else:
                admission.misplaced += 1
                self._realign(key, want, offset, admission)
        return admission

    def _confirmed_hole(self, key: SourcePartition, want: int, offset: int, admission: Admission[T]) -> bool:
        state = self._realigning.get(key)
        if state is None or state.first_seen != offset:
            return False
        state.confirmations += 1
        if state.confirmations < CONFIRMATIONS:
            return False
        admission.absent.append(Gap(key, want, offset))
        return True

    def _realign(self, key: SourcePartition, want: int, offset: int, admission: Admission[T]) -> None:
        state = self._realigning.get(key)
        if state is None or state.first_seen is None or offset < state.first_seen:
            self._realigning[key] = _Realignment(offset)
        # A record fetched before the last seek may have moved Faust's read position on again
        # (it then drops the re-read records as already read): seek once more per batch.
        admission.seeks[key] = want

    def expected(self, key: SourcePartition) -> int | None:
        """The next offset of `key` to process; None before the partition's start is known."""
        return self._next.get(key)

    def positions(self, keys: Iterable[SourcePartition]) -> dict[SourcePartition, int]:
        """The next offsets of these partitions: what to commit once everything before them is stored."""
        return {key: self._next[key] for key in keys if key in self._next}

    def keep_only(self, assigned: Collection[SourcePartition]) -> None:
        """After a rebalance: forget partitions that went elsewhere (they may come back later)."""
        for key in [key for key in self._next if key not in assigned]:
            del self._next[key]
        for key in [key for key in self._realigning if key not in assigned]:
            del self._realigning[key]
