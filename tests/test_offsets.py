"""The ingest agent's per-partition offset guard (streams/offsets.py): pure, no Kafka."""

from __future__ import annotations

from streams.offsets import OffsetGuard

Record = tuple[str, int, int]


def guard() -> OffsetGuard[Record]:
    return OffsetGuard(lambda record: record)


def test_contiguous_records_are_fresh_and_the_first_one_sets_the_start() -> None:
    offsets = guard()
    admission = offsets.admit([("r", 0, 40), ("r", 0, 41), ("c", 0, 7), ("r", 0, 42)])
    assert admission.fresh == [("r", 0, 40), ("r", 0, 41), ("c", 0, 7), ("r", 0, 42)]
    assert admission.duplicates == [] and admission.gaps == {}


def test_records_delivered_again_are_duplicates_even_within_one_batch() -> None:
    offsets = guard()
    offsets.admit([("r", 0, 1), ("r", 0, 2)])
    admission = offsets.admit([("r", 0, 2), ("r", 0, 3), ("r", 0, 3), ("r", 0, 1), ("r", 0, 4)])
    assert admission.fresh == [("r", 0, 3), ("r", 0, 4)]
    assert admission.duplicates == [("r", 0, 2), ("r", 0, 3), ("r", 0, 1)]


def test_a_gap_holds_back_the_rest_of_that_partition_only() -> None:
    offsets = guard()
    offsets.admit([("r", 0, 10), ("r", 1, 5)])
    admission = offsets.admit([("r", 0, 11), ("r", 0, 13), ("r", 1, 6), ("r", 0, 12), ("r", 0, 14)])
    assert admission.fresh == [("r", 0, 11), ("r", 1, 6)]
    assert admission.gaps == {("r", 0): 12}
    assert admission.waiting == [("r", 0, 13), ("r", 0, 12), ("r", 0, 14)]
    # After the seek the partition comes again from the missing offset.
    again = offsets.admit([("r", 0, 12), ("r", 0, 13), ("r", 0, 14)])
    assert again.fresh == [("r", 0, 12), ("r", 0, 13), ("r", 0, 14)] and again.gaps == {}


def test_records_of_partitions_no_longer_assigned_are_dropped() -> None:
    offsets = guard()
    admission = offsets.admit([("r", 0, 1), ("r", 1, 1)], assigned={("r", 1)})
    assert admission.fresh == [("r", 1, 1)] and admission.foreign == [("r", 0, 1)]


def test_a_partition_that_moved_away_and_back_starts_afresh() -> None:
    offsets = guard()
    offsets.admit([("r", 0, 1), ("r", 1, 1)])
    offsets.keep_only({("r", 1)})
    # Another worker went on with partition 0; it comes back at its committed offset.
    admission = offsets.admit([("r", 0, 500), ("r", 1, 3)])
    assert admission.fresh == [("r", 0, 500)]
    assert admission.gaps == {("r", 1): 2}  # partition 1 stayed: its expectation is kept


def test_an_offset_that_never_comes_is_given_up_after_two_minutes_of_seeking() -> None:
    now = [0.0]
    offsets: OffsetGuard[Record] = OffsetGuard(lambda record: record, clock=lambda: now[0])
    offsets.admit([("r", 0, 1)])
    assert offsets.admit([("r", 0, 3)]).gaps == {("r", 0): 2}
    assert offsets.gaps() == {("r", 0): 2}
    now[0] = OffsetGuard.GIVE_UP_SECONDS
    assert offsets.admit([("r", 0, 3)]).gaps == {("r", 0): 2}
    now[0] = OffsetGuard.GIVE_UP_SECONDS + 1
    admission = offsets.admit([("r", 0, 3), ("r", 0, 4)])
    assert admission.skipped == {("r", 0): (2, 3)}
    assert admission.fresh == [("r", 0, 3), ("r", 0, 4)]
    assert offsets.gaps() == {}


def test_a_gap_filled_by_the_seek_is_forgotten() -> None:
    offsets = guard()
    offsets.admit([("r", 0, 1)])
    offsets.admit([("r", 0, 5)])
    assert offsets.admit([("r", 0, 2), ("r", 0, 3)]).fresh == [("r", 0, 2), ("r", 0, 3)]
    assert offsets.gaps() == {}


def test_a_newly_assigned_partition_starts_at_its_committed_offset() -> None:
    offsets = guard()
    committed = {("r", 0): 793}.get
    # Faust sought the partition to 793 but dropped its first fetched records: 800 is a gap.
    admission = offsets.admit([("r", 0, 800), ("r", 1, 5)], committed=committed)
    assert admission.gaps == {("r", 0): 793} and admission.waiting == [("r", 0, 800)]
    assert admission.fresh == [("r", 1, 5)]  # no committed offset: the first record starts it
    again = offsets.admit([("r", 0, 793), ("r", 0, 794)], committed=committed)
    assert again.fresh == [("r", 0, 793), ("r", 0, 794)]
    assert offsets.admit([("r", 0, 790)], committed=committed).duplicates == [("r", 0, 790)]
