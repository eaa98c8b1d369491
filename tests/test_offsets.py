"""The ingest agent's in-order admission: duplicates acknowledged only, gaps reported to be read back."""

from __future__ import annotations

from streams.offsets import Gap, PartitionOrder

Record = tuple[str, int, int]


def _order(**starts: int) -> PartitionOrder[Record]:
    order: PartitionOrder[Record] = PartitionOrder(lambda record: record)
    order.start({(topic, 0): offset for topic, offset in starts.items()})
    return order


def test_contiguous_records_are_fresh_and_advance_the_expected_offset() -> None:
    order = _order(r=5)
    admission = order.admit([("r", 0, 5), ("r", 0, 6), ("r", 0, 7)])
    assert admission.fresh == [(("r", 0, 5), None), (("r", 0, 6), None), (("r", 0, 7), None)]
    assert admission.duplicates == [] and admission.gaps == []
    assert order.expected(("r", 0)) == 8


def test_records_below_the_expected_offset_are_duplicates() -> None:
    order = _order(r=5)
    order.admit([("r", 0, 5), ("r", 0, 6)])
    admission = order.admit([("r", 0, 5), ("r", 0, 6), ("r", 0, 7)])
    assert admission.duplicates == [("r", 0, 5), ("r", 0, 6)]
    assert admission.fresh == [(("r", 0, 7), None)]


def test_a_record_past_a_hole_carries_the_missing_range() -> None:
    order = _order(r=5, c=0)
    admission = order.admit([("r", 0, 9), ("c", 0, 0), ("r", 0, 10)])
    assert admission.fresh == [(("r", 0, 9), Gap(("r", 0), 5, 9)), (("c", 0, 0), None), (("r", 0, 10), None)]
    assert admission.gaps == [Gap(("r", 0), 5, 9)]
    assert order.expected(("r", 0)) == 11


def test_unknown_partitions_and_forgetting_on_rebalance() -> None:
    order = _order(r=5)
    assert order.unknown([("r", 0), ("r", 1)]) == {("r", 1)}
    order.start({("r", 1): 3, ("r", 0): 0})  # a known start is kept
    assert order.expected(("r", 0)) == 5 and order.expected(("r", 1)) == 3
    order.keep_only({("r", 1)})
    assert order.expected(("r", 0)) is None and order.expected(("r", 1)) == 3
