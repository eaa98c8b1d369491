"""Observations routed to the detector of their step, and the detectors' watermark over all source partitions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from haochaping.alerts.routing import RoutedBatch, SourceProgress, detector_partition, route
from haochaping.observations import StepObservation
from haochaping.rows import Source


def _observation(step: str, rating_id: str = "R-1") -> StepObservation:
    return StepObservation(
        rating_id=rating_id,
        at=datetime(2026, 11, 20, 7, 30, tzinfo=UTC),
        province="340000",
        matter_code="HCP-TEST",
        mode="proxy",
        step=step,
        role="HANDLING",
        org_code="340100-ZWFW",
        level=1,
        weight=0.75,
        reason="DELAY",
        comment="审批一直没动静",
    )


def test_every_observation_of_a_step_goes_to_one_partition_and_every_partition_hears_the_progress() -> None:
    observed = [
        (_observation("REVIEW", "R-1"), Source("t.ratings", 0, 5)),
        (_observation("ACCEPT", "R-2"), Source("t.ratings", 1, 9)),
        (_observation("REVIEW", "R-3"), Source("t.ratings", 2, 1)),
    ]
    routed = route(observed, {0: 100.0, 1: None}, 4)
    assert sorted(routed) == [0, 1, 2, 3]
    review, accept = detector_partition("REVIEW", 4), detector_partition("ACCEPT", 4)
    assert [o.rating_id for o, _ in routed[review].observations if o.step == "REVIEW"] == ["R-1", "R-3"]
    assert [o.rating_id for o, _ in routed[accept].observations if o.step == "ACCEPT"] == ["R-2"]
    assert all(part.rating_times == {0: 100.0, 1: None} for part in routed.values())


def test_a_routed_batch_survives_the_wire() -> None:
    batch = RoutedBatch(((_observation("REVIEW"), Source("t.ratings.340000", 3, 17)),), {0: 1.5, 3: None})
    (message,) = batch.encode_chunks()
    assert RoutedBatch.decode(message) == batch


def test_a_large_batch_is_split_under_the_budget_with_the_rating_times_last() -> None:
    long_comment = "审批一直没动静，打电话也没人接。" * 120  # ~1,900 characters, near the contract's 2,000
    observed = tuple(
        (replace(_observation("REVIEW", f"R-{n}"), comment=long_comment), Source("t.ratings", n % 4, n))
        for n in range(600)
    )
    batch = RoutedBatch(observed, {0: 1.5, 1: None})
    messages = batch.encode_chunks(max_bytes=256 * 1024)
    decoded = [RoutedBatch.decode(message) for message in messages]
    assert len(messages) == 14  # 600 observations of ~6.1 kB (5,760 bytes of comment), 43 per 256 kB
    assert max(len(message) for message in messages) <= 256 * 1024 + 100
    assert [item for part in decoded for item in part.observations] == list(observed)
    assert [part.rating_times for part in decoded] == [{}] * 13 + [{0: 1.5, 1: None}]


def test_no_watermark_until_every_source_partition_has_reported() -> None:
    progress = SourceProgress(3, {})
    progress.update({0: 500.0, 1: 900.0})
    assert progress.watermark() is None  # partition 2 may still hold parked ratings from long ago
    progress.update({2: 300.0})
    assert progress.watermark() == 300.0


def test_idle_partitions_hold_nothing_back_and_all_idle_keeps_the_newest_time() -> None:
    progress = SourceProgress(3, {})
    progress.update({0: 500.0, 1: None, 2: 700.0})
    assert progress.watermark() == 500.0
    progress.update({0: None, 2: None})
    assert progress.watermark() == 700.0
