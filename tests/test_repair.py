"""The partition check of the ingest agent: misplaced records to re-send, copies taken once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import faust
from faust.types import EventT

from haochaping.settings import Settings
from streams.repair import REPAIRED_FROM, PartitionRepair
from streams.tables import PartitionedTable, partition_of

SETTINGS = Settings(topic_prefix="u.", partitions=4)
TOPIC = SETTINGS.topics["ratings"]


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: float = 0.0


@dataclass
class _Event:
    message: _Message


class _Table:
    """The two calls PartitionRepair makes of its table."""

    def __init__(self) -> None:
        self.rows: dict[bytes, tuple[bytes, int]] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.rows[key][0] if key in self.rows else None

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        self.rows[key] = (value, partition)


def _repair(table: _Table) -> PartitionRepair:
    return PartitionRepair(faust.App("unit-repair"), SETTINGS, cast(PartitionedTable, table))


def _event(partition: int, offset: int, key: bytes | None, origin: str | None = None) -> EventT[bytes]:
    headers = [(REPAIRED_FROM, origin.encode())] if origin else []
    return cast(EventT[bytes], _Event(_Message(TOPIC, partition, offset, key, headers=headers)))


def _key_for(partition: int) -> bytes:
    return next(key for n in range(1000) if partition_of(key := f"C-{n}".encode(), 4) == partition)


def test_records_on_another_partition_than_their_key_are_to_be_re_sent() -> None:
    repair = _repair(_Table())
    right, wrong = _event(1, 10, _key_for(1)), _event(1, 11, _key_for(3))
    no_key = _event(2, 5, None)
    sorted_ = repair.sort([right, wrong, no_key])
    assert sorted_.take == [right, no_key]
    assert [(item.event, item.partition) for item in sorted_.resend] == [(wrong, 3)]
    assert repair.counters.misplaced == {TOPIC: 1}
    assert repair.counters.metrics()[f'misplaced_records{{topic="{TOPIC}"}}'] == 1


def test_a_copy_sent_again_after_a_crash_is_taken_once() -> None:
    table = _Table()
    repair = _repair(table)
    key = _key_for(3)
    first = repair.sort([_event(3, 100, key, origin="1/11")])
    assert len(first.take) == 1 and first.copies_seen == 0
    assert table.rows == {}  # marked only once its rows are stored
    again = repair.sort([_event(3, 101, key, origin="1/11")])  # still unstored: known in memory
    assert again.take == [] and again.copies_seen == 1
    repair.save_marks(first.marks)
    assert table.rows == {f"{TOPIC}/3/1".encode(): (b"11", 3)}
    repair.forget()  # a rebalance: read from the table again
    after = repair.sort([_event(3, 102, key, origin="1/11"), _event(3, 103, key, origin="1/12")])
    assert [event.message.offset for event in after.take] == [103]
    assert after.copies_seen == 1
    assert repair.counters.copies_seen == 2 and repair.counters.copies_taken == 2


def test_copies_from_different_origin_partitions_are_marked_apart() -> None:
    repair = _repair(_Table())
    key = _key_for(2)
    sorted_ = repair.sort([_event(2, 1, key, origin="0/50"), _event(2, 2, key, origin="1/7")])
    assert len(sorted_.take) == 2
    assert sorted_.marks == {f"{TOPIC}/2/0".encode(): (50, 2), f"{TOPIC}/2/1".encode(): (7, 2)}


def test_an_unreadable_origin_header_is_no_copy() -> None:
    repair = _repair(_Table())
    event = _event(2, 1, _key_for(2), origin="garbage")
    assert repair.sort([event]).take == [event]
    assert repair.counters.copies_taken == 0
