"""Observations routed to the detector of their step, and the detectors' watermark over all source partitions."""

from __future__ import annotations

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
    assert RoutedBatch.decode(batch.encode()) == batch


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
