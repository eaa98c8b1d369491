"""Detector state survives a restart: encode() mid-stream, decode(), and the same alerts follow."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from haochaping.alerts import SpikeDetector
from tests.test_alerts_support import CONFIG, HOUR, START, observations, run_windows

SCENARIO = [(200, 4)] * 10 + [(200, 12), (200, 12), (200, 4), (200, 4), (200, 40), (200, 4)]


def test_round_trip_mid_stream_gives_identical_subsequent_alerts() -> None:
    straight = SpikeDetector(CONFIG)
    expected = run_windows(straight, 0, SCENARIO)

    before = SpikeDetector(CONFIG)
    assert run_windows(before, 0, SCENARIO[:11]) == expected[:11]  # window 10 is pending now
    begin = START + 11 * HOUR
    half = observations(begin, 200, 12)
    before.observe_all(half[:100])  # and window 11 is open, half seen
    restored = SpikeDetector.decode(before.encode(), CONFIG)
    assert restored.encode() == before.encode()
    restored.observe_all(half[100:])
    rest = [restored.advance(begin + HOUR + CONFIG.allowed_lateness)]
    rest += run_windows(restored, 12, SCENARIO[12:])
    assert [[alert.to_wire() for alert in window] for window in rest] == [
        [alert.to_wire() for alert in window] for window in expected[11:]
    ]
    assert [alert.state for window in rest for alert in window] == ["firing", "resolved"]


def test_state_stays_small_and_forgets_quiet_keys() -> None:
    detector = SpikeDetector(CONFIG)
    run_windows(detector, 0, [(200, 4)] * 5)
    assert detector.tracked_keys == 1 and detector.open_windows == 0
    detector.advance(START + 24 * 7 * 4 * HOUR)  # four weeks without a rating
    assert detector.tracked_keys == 0
    assert len(detector.encode()) < 1000


def test_decode_refuses_a_state_for_other_windows_and_garbage() -> None:
    detector = SpikeDetector(CONFIG)
    run_windows(detector, 0, [(200, 4)] * 2)
    with pytest.raises(ValueError, match="windows would not line up"):
        SpikeDetector.decode(detector.encode(), replace(CONFIG, window=timedelta(hours=2)))
    with pytest.raises(ValueError, match="not a state written by encode"):
        SpikeDetector.decode(b"not a state", CONFIG)
