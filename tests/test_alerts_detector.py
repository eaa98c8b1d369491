"""The spike detector's decisions: quiet when normal, pending then firing, overwhelming, cool-down, resolve."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from haochaping.alerts import SpikeDetector
from haochaping.alerts.model import alert_id
from haochaping.observations import StepObservation
from tests.test_alerts_support import CONFIG, HOUR, KEY, START, flat, observations, run_windows

NORMAL = (200, 4)  # 2% of 200 ratings
BASELINE = [NORMAL] * 10


def test_a_clean_key_never_fires() -> None:
    rng = random.Random(7)
    detector = SpikeDetector(CONFIG)
    for index in range(60):
        begin = START + index * HOUR
        window = observations(begin, 200, 0)
        noisy = [replace(obs, weight=1.0, reason="DATA_NOT_SHARED") if rng.random() < 0.02 else obs for obs in window]
        detector.observe_all(noisy)
        assert detector.advance(begin + HOUR + CONFIG.allowed_lateness) == []
    assert detector.finish() == []


def test_a_threefold_rise_fires_after_the_pending_period_with_its_key() -> None:
    detector = SpikeDetector(CONFIG)
    closed = run_windows(detector, 0, [*BASELINE, (200, 12), (200, 12)])
    assert flat(closed[:11]) == []  # the first high window only opens a pending alert
    [alert] = closed[11]
    assert (alert.state, alert.province, alert.matter_code, alert.step) == ("firing", *KEY)
    assert alert.window_start == START + 10 * HOUR
    assert alert.window_end == START + 12 * HOUR
    assert (alert.ratings, alert.negatives) == (400, 24.0)
    assert alert.rate == 0.06
    assert 0.019 < alert.baseline < 0.021
    assert alert.score > 3.0
    assert [(share.reason, share.negatives) for share in alert.top_reasons] == [("DATA_NOT_SHARED", 24.0)]
    assert [(org.org, org.role, org.ratings, org.negatives) for org in alert.organisations] == [
        ("340000-RSJ-SJ", "DATA_PROVIDER", 400, 24.0)
    ]
    assert alert.examples == tuple(f"第{number}位：数据调不过来，电话[手机号]" for number in range(3))


def test_a_rise_that_does_not_hold_is_forgotten() -> None:
    detector = SpikeDetector(CONFIG)
    closed = run_windows(detector, 0, [*BASELINE, (200, 12), NORMAL, NORMAL, NORMAL])
    assert flat(closed) == []


def test_an_overwhelming_window_fires_at_once() -> None:
    detector = SpikeDetector(CONFIG)
    closed = run_windows(detector, 0, [*BASELINE, (200, 40)])
    [alert] = closed[10]
    assert (alert.state, alert.window_start, alert.window_end) == ("firing", START + 10 * HOUR, START + 11 * HOUR)
    assert (alert.ratings, alert.negatives) == (200, 40.0)
    assert alert.score > 7.0


def test_one_alert_per_incident_then_resolved_when_back_to_normal() -> None:
    detector = SpikeDetector(CONFIG)
    closed = run_windows(detector, 0, [*BASELINE, (200, 40), (200, 40), (200, 30), NORMAL, NORMAL])
    assert [alert.state for alert in flat(closed)] == ["firing", "resolved"]
    firing, resolved = flat(closed)
    assert closed[10] == [firing] and closed[14] == [resolved]
    assert (resolved.province, resolved.matter_code, resolved.step) == KEY
    assert (resolved.window_start, resolved.window_end) == (START + 13 * HOUR, START + 15 * HOUR)
    assert (resolved.ratings, resolved.negatives) == (400, 8.0)
    assert resolved.examples == ()
    assert resolved.alert_id != firing.alert_id
    assert resolved.alert_id == alert_id("resolved", *KEY, firing.window_start)


def test_status_follows_the_incident() -> None:
    detector = SpikeDetector(CONFIG)
    run_windows(detector, 0, [*BASELINE, (200, 12)])
    assert detector.status(*KEY) == "pending"
    run_windows(detector, 11, [(200, 12)])
    assert detector.status(*KEY) == "firing"
    run_windows(detector, 12, [NORMAL, NORMAL])
    assert detector.status(*KEY) == "cooling"
    run_windows(detector, 14, [NORMAL] * 4)
    assert detector.status(*KEY) == "idle"
    assert detector.status("340000", None, "DATA_SHARE") == "idle"


def test_cool_down_keeps_a_resolved_key_quiet_then_it_may_fire_again() -> None:
    detector = SpikeDetector(CONFIG)
    incident = [(200, 40), NORMAL, NORMAL]  # fires at 10, resolved at 12
    cooling = [(200, 40)] + [NORMAL] * 3  # windows 13-16: quiet (cool-down of 4 windows)
    closed = run_windows(detector, 0, [*BASELINE, *incident, *cooling, (200, 40)])
    alerts = flat(closed)
    assert [(alert.state, alert.window_start) for alert in alerts] == [
        ("firing", START + 10 * HOUR),
        ("resolved", START + 11 * HOUR),
        ("firing", START + 17 * HOUR),
    ]
    assert len({alert.alert_id for alert in alerts}) == 3


def test_late_observation_within_lateness_counts_in_its_window_and_later_ones_are_dropped() -> None:
    detector = SpikeDetector(CONFIG)
    run_windows(detector, 0, BASELINE)
    begin = START + 10 * HOUR
    detector.observe_all(observations(begin, 200, 40))
    assert detector.advance(begin + HOUR + timedelta(minutes=5)) == []  # still within the lateness
    late = observations(begin + timedelta(minutes=30), 1, 1, prefix="late")
    detector.observe_all(late)
    [alert] = detector.advance(begin + HOUR + CONFIG.allowed_lateness)
    assert (alert.ratings, alert.negatives) == (201, 41.0)
    too_late = observations(begin + timedelta(minutes=45), 1, 1, prefix="too-late")
    detector.observe_all(too_late)
    assert detector.dropped_late == 1
    assert detector.advance(begin + 5 * HOUR) == []


def test_every_late_drop_is_counted_and_each_is_taken_once() -> None:
    detector = SpikeDetector(CONFIG)
    run_windows(detector, 0, [NORMAL] * 3)  # windows 0, 1 and 2 are evaluated
    assert detector.take_dropped_late() == 0
    detector.observe_all(observations(START, 7, 2, prefix="late-a"))  # the oldest closed window
    detector.observe_all(observations(START + 2 * HOUR, 5, 0, prefix="late-b"))  # the newest closed window
    detector.observe_all(observations(START + 3 * HOUR, 4, 1, prefix="on-time"))  # open: counted in window 3
    assert detector.take_dropped_late() == 12
    assert detector.take_dropped_late() == 0
    detector.observe_all(observations(START + HOUR, 3, 0, prefix="late-c"))
    assert (detector.take_dropped_late(), detector.dropped_late) == (3, 15)
    assert detector.open_windows == 1  # window 3, with the 4 on-time observations
    assert detector.finish() == []
    assert detector.dropped_late == 15


def test_a_restored_detector_takes_only_the_drops_it_saw() -> None:
    detector = SpikeDetector(CONFIG)
    run_windows(detector, 0, [NORMAL] * 2)
    detector.observe_all(observations(START, 6, 0, prefix="late"))
    restored = SpikeDetector.decode(detector.encode(), CONFIG)
    assert (restored.dropped_late, restored.take_dropped_late()) == (6, 0)  # the saving worker reported them
    restored.observe_all(observations(START + HOUR, 2, 0, prefix="later"))
    assert (restored.take_dropped_late(), restored.dropped_late) == (2, 8)


def test_low_volume_matters_are_tested_pooled_per_province_and_step() -> None:
    detector = SpikeDetector(CONFIG)
    matters = [f"HCP-SMALL-{number}" for number in range(5)]

    def window(index: int, spike: int) -> list[StepObservation]:
        begin = START + index * HOUR
        result = []
        for number, matter in enumerate(matters):  # 10 ratings each: too few to test a matter alone
            negatives = spike if number == 2 else (1 if number == index % 5 else 0)
            result += observations(begin, 10, negatives, ("340000", matter, "REVIEW"))
        return result

    alerts = []
    for index in range(14):
        detector.observe_all(window(index, 7 if index >= 12 else 0))
        alerts += detector.advance(START + (index + 1) * HOUR + CONFIG.allowed_lateness)
    [alert] = alerts
    assert (alert.state, alert.province, alert.matter_code, alert.step) == ("firing", "340000", None, "REVIEW")
    assert (alert.window_start, alert.window_end) == (START + 12 * HOUR, START + 14 * HOUR)
    assert alert.ratings == 100
    assert "o.matter_code =" not in alert.query


def test_alerts_and_ids_are_deterministic() -> None:
    def run() -> list[dict[str, object]]:
        detector = SpikeDetector(CONFIG)
        return [alert.to_wire() for alert in flat(run_windows(detector, 0, [*BASELINE, (200, 12), (200, 12)]))]

    first, second = run(), run()
    assert first == second
    assert first[0]["alert_id"] == alert_id("firing", *KEY, START + 10 * HOUR)
    assert alert_id("firing", *KEY, START + 11 * HOUR) != first[0]["alert_id"]
    assert alert_id("firing", "340000", None, "DATA_SHARE", START + 10 * HOUR) != first[0]["alert_id"]


def test_no_alert_before_the_step_has_history_nationally() -> None:
    detector = SpikeDetector(replace(CONFIG, min_history=5000.0))
    closed = run_windows(detector, 0, [*BASELINE, (200, 40), (200, 40)])
    assert flat(closed) == []
