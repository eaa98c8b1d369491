"""The agents' in-order admission: duplicates dropped, records from elsewhere discarded with a seek back."""

from __future__ import annotations

from streams.offsets import CONFIRMATIONS, Gap, PartitionOrder

Record = tuple[str, int, int]


def _order(**starts: int) -> PartitionOrder[Record]:
    order: PartitionOrder[Record] = PartitionOrder(lambda record: record)
    order.start({(topic, 0): offset for topic, offset in starts.items()})
    return order


def test_contiguous_records_are_fresh_and_advance_the_expected_offset() -> None:
    order = _order(r=5)
    admission = order.admit([("r", 0, 5), ("r", 0, 6), ("r", 0, 7)])
    assert admission.fresh == [("r", 0, 5), ("r", 0, 6), ("r", 0, 7)]
    assert (admission.duplicates, admission.misplaced, admission.seeks, admission.absent) == (0, 0, {}, [])
    assert order.expected(("r", 0)) == 8
    assert order.positions([("r", 0), ("x", 0)]) == {("r", 0): 8}


def test_records_below_the_expected_offset_are_duplicates_and_faust_skips_ahead() -> None:
    order = _order(r=5)
    order.admit([("r", 0, 5), ("r", 0, 6)])
    admission = order.admit([("r", 0, 5), ("r", 0, 6), ("r", 0, 7)])
    assert admission.duplicates == 2
    assert admission.seeks == {("r", 0): 7}
    assert admission.fresh == [("r", 0, 7)]


def test_a_record_past_the_expected_offset_is_discarded_and_faust_sent_back() -> None:
    order = _order(r=5, c=0)
    admission = order.admit([("r", 0, 9), ("c", 0, 0), ("r", 0, 10)])
    assert admission.fresh == [("c", 0, 0)]
    assert admission.misplaced == 2
    assert admission.seeks == {("r", 0): 5}
    assert order.expected(("r", 0)) == 5
    # Records fetched before the seek still arrive: another seek; then the re-read from 5.
    stale = order.admit([("r", 0, 11)])
    assert stale.fresh == [] and stale.seeks == {("r", 0): 5}
    reread = order.admit([("r", 0, 5), ("r", 0, 6), ("r", 0, 9)])
    assert reread.fresh == [("r", 0, 5), ("r", 0, 6)]
    assert reread.seeks == {("r", 0): 7} and reread.absent == []


def test_a_hole_is_believed_only_after_repeated_re_reads_start_at_the_same_record() -> None:
    order = _order(r=5)
    first = order.admit([("r", 0, 9)])
    assert first.seeks == {("r", 0): 5}
    for _ in range(CONFIRMATIONS - 1):
        again = order.admit([("r", 0, 9), ("r", 0, 10)])
        assert again.fresh == [] and again.seeks == {("r", 0): 5}
    believed = order.admit([("r", 0, 9), ("r", 0, 10)])
    assert believed.fresh == [("r", 0, 9), ("r", 0, 10)]
    assert believed.absent == [Gap(("r", 0), 5, 9)]
    assert order.expected(("r", 0)) == 11


def test_an_earlier_misplaced_record_restarts_the_confirmation() -> None:
    order = _order(r=5)
    order.admit([("r", 0, 9)])
    order.admit([("r", 0, 9)])
    order.admit([("r", 0, 7)])  # closer to 5 than 9: the count starts again at 7
    for _ in range(CONFIRMATIONS - 1):
        assert order.admit([("r", 0, 7)]).fresh == []
    assert order.admit([("r", 0, 7)]).absent == [Gap(("r", 0), 5, 7)]


def test_unknown_partitions_and_forgetting_on_rebalance() -> None:
    order = _order(r=5)
    assert order.unknown([("r", 0), ("r", 1)]) == {("r", 1)}
    order.start({("r", 1): 3, ("r", 0): 0})  # a known start is kept
    assert order.expected(("r", 0)) == 5 and order.expected(("r", 1)) == 3
    order.keep_only({("r", 1)})
    assert order.expected(("r", 0)) is None and order.expected(("r", 1)) == 3
