"""The dead-letter guard tolerates noise and trips on a systematic failure."""

from __future__ import annotations

import pytest

from haochaping.dlq_guard import DeadLetterGuard, DeadLetterLimit, DeadLetterLimitExceeded


def test_noise_is_tolerated() -> None:
    guard = DeadLetterGuard(DeadLetterLimit(max_ratio=0.5, min_messages=100), window=1_000)
    for _ in range(100):
        guard.check(total=100, invalid=10)


def test_small_samples_are_not_judged() -> None:
    guard = DeadLetterGuard(DeadLetterLimit(max_ratio=0.5, min_messages=100), window=1_000)
    guard.check(total=99, invalid=99)


def test_systematic_failure_trips_with_numbers() -> None:
    guard = DeadLetterGuard(DeadLetterLimit(max_ratio=0.5, min_messages=100), window=1_000)
    guard.check(total=60, invalid=0)
    with pytest.raises(DeadLetterLimitExceeded, match=r"^100 of the last 160 messages were invalid \(62%, limit 50%\)"):
        guard.check(total=100, invalid=100)


def test_old_batches_leave_the_window() -> None:
    guard = DeadLetterGuard(DeadLetterLimit(max_ratio=0.5, min_messages=100), window=200)
    guard.check(total=200, invalid=200 // 2)  # exactly half: not over the limit
    for _ in range(3):
        guard.check(total=100, invalid=0)
    with pytest.raises(DeadLetterLimitExceeded, match=r"^150 of the last 200 messages"):
        guard.check(total=100, invalid=50)
        guard.check(total=100, invalid=100)
