"""Experiment 2b of bench/evaluate_alerts.py, one seeded world: the default detector catches a 3x rise in time.

The claim in docs/alerts.md ("at 30 ratings per window a step with a complaint rate of ~15% has
its 3x rise detected within two windows") rests on these worlds; this pins one of them exactly,
with the production defaults, so a change to the detector or its defaults that moves it shows here.
"""

from __future__ import annotations

from datetime import timedelta

from bench.evaluate_alerts import (
    SYNTHETIC_KEY,
    SYNTHETIC_START,
    SYNTHETIC_WARMUP_DAYS,
    SyntheticTrial,
    synthetic_run,
)
from haochaping.alerts import DetectorConfig


def test_a_threefold_rise_at_a_15_percent_key_with_30_ratings_fires_within_two_windows() -> None:
    outcome = synthetic_run(SyntheticTrial(volume=30, rate=0.15, weight=1.0, seed=1), DetectorConfig())
    onset = SYNTHETIC_START + timedelta(days=SYNTHETIC_WARMUP_DAYS)
    assert not outcome.busy  # the key was idle at the onset: a real test
    assert outcome.first == "pending"  # the first window of the rise opens a pending alert...
    assert outcome.delay == 2  # ...and the second confirms it: within two windows
    alert = outcome.alert
    assert alert is not None
    assert (alert.state, alert.province, alert.matter_code, alert.step) == ("firing", *SYNTHETIC_KEY)
    assert (alert.window_start, alert.window_end) == (onset, onset + timedelta(hours=12))
    assert (alert.ratings, alert.negatives) == (60, 22.0)
    assert round(alert.baseline, 4) == 0.1446  # the key's own history, shrunk a little towards its neighbours
    assert round(alert.score, 2) == 4.52
    assert alert.alert_id == "fd5352212c2a0fdd0b2b7f99"
    assert outcome.elsewhere == 0
    # The same world without the rise: no alert anywhere in its 16 measured days.
    assert (outcome.false_key, outcome.false_all, outcome.days) == (0, 0, 16.0)


def test_the_same_world_at_2_percent_does_not_see_the_rise_in_time() -> None:
    # 0.6 complaints a window at baseline, 1.8 after the rise: the data cannot show it within two windows.
    outcome = synthetic_run(SyntheticTrial(volume=30, rate=0.02, weight=1.0, seed=1), DetectorConfig())
    assert not outcome.busy
    assert outcome.first == "pending"
    assert (outcome.delay, outcome.alert) == (None, None)
    assert (outcome.false_key, outcome.false_all) == (0, 0)
