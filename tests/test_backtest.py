"""`hcp backtest`'s core: recorded events → tracing → spike detector, in event-time order."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from haochaping.alerts import DetectorConfig
from haochaping.backtest import BacktestReport, backtest
from haochaping.catalog import default_catalog

CN = timezone(timedelta(hours=8))
START = datetime(2026, 11, 16, 0, 0, tzinfo=CN)
CONFIG = DetectorConfig(window=timedelta(hours=1), allowed_lateness=timedelta(minutes=10), min_ratings=15,
                        min_history=0.0)
# 社保参保证明 online: the portal in 上海, 安徽's data centre answers the data lookup.
STEPS = (("GUIDE", "PLATFORM"), ("IDENTITY", "PLATFORM"), ("APPLY", "PLATFORM"), ("DATA_SHARE", "DATA_PROVIDER"),
         ("DECIDE", "HANDLING"), ("DELIVER", "PLATFORM"))
ORGS = {
    "PLATFORM": {"code": "310000-ZWFW", "name": "上海一网通办", "province": "310000", "role": "PLATFORM"},
    "DATA_PROVIDER": {"code": "340000-RSJ-SJ", "name": "安徽省人社厅数据中心", "province": "340000",
                      "role": "DATA_PROVIDER"},
    "HANDLING": {"code": "340000-RSJ", "name": "安徽省人社厅", "province": "340000", "role": "HANDLING"},
}


def _case(number: int, at: datetime, negative: bool) -> list[dict[str, Any]]:
    case_id = f"C-{number:05d}"
    events: list[dict[str, Any]] = []
    for step, role in STEPS:
        actions = ["start", "fail", "complete"] if negative and step == "DATA_SHARE" else ["start", "complete"]
        for action in actions:
            events.append({
                "schema": "hcp.case/1", "event_id": f"E-{number:05d}-{len(events)}", "case_id": case_id,
                "matter_code": "HCP-RS-CBZM", "mode": "online", "step": step, "action": action,
                "org": ORGS[role], "at": (at + timedelta(seconds=20 * len(events))).isoformat(), "note": None,
            })
    events.append({
        "schema": "hcp.rating/1", "rating_id": f"R-{number:05d}", "case_id": case_id,
        "matter_code": "HCP-RS-CBZM", "province": "310000", "channel": "app", "level": 1 if negative else 5,
        "tags": ["DATA_NOT_SHARED"] if negative else [],
        "comment": "安徽的数据共享一直核验失败，数据调不过来，电话13812345678" if negative else "很方便",
        "step": None, "rated_at": (at + timedelta(minutes=10)).isoformat(), "rater": None,
    })
    return events


def _history() -> list[bytes]:
    """26 hours of 20 cases an hour; 安徽's data lookup starts failing for 30% of them at hour 24."""
    rng = random.Random(3)
    events = []
    for number in range(26 * 20):
        at = START + timedelta(minutes=3 * number)
        share = 0.3 if at >= START + timedelta(hours=24) else 0.02
        events += _case(number, at, rng.random() < share)
    return [json.dumps(event, ensure_ascii=False).encode("utf-8") for event in events]


def test_backtest_finds_the_failing_data_lookup_whatever_the_input_order() -> None:
    lines = _history()
    report = BacktestReport()
    alerts = list(backtest(lines, None, default_catalog(), CONFIG, report=report))
    assert (report.ratings, report.invalid, report.dropped_late) == (520, 0, 0)
    assert report.observations >= 520 * 6  # six steps per case, plus any step blamed off the timeline
    data_share = [alert for alert in alerts if alert.step == "DATA_SHARE"]
    [alert] = data_share
    assert (alert.state, alert.province, alert.matter_code) == ("firing", "340000", "HCP-RS-CBZM")
    assert alert.window_start == START + timedelta(hours=24)
    assert alert.organisations[0].org == "340000-RSJ-SJ"
    assert alert.examples and all("[手机号]" in example for example in alert.examples)
    assert max(alerts, key=lambda found: found.score) is alert

    shuffled = lines[:]
    random.Random(5).shuffle(shuffled)
    cases = [line for line in shuffled if b'"hcp.case/1"' in line]
    ratings = [line for line in shuffled if b'"hcp.case/1"' not in line]
    again = list(backtest(ratings, cases, default_catalog(), CONFIG))
    assert [found.to_wire() for found in again] == [found.to_wire() for found in alerts]


def test_invalid_lines_are_reported_with_their_line_number_and_skipped() -> None:
    bad_time = json.dumps({"schema": "hcp.rating/1", "rated_at": "yesterday"}).encode()
    lines = [b"{not json", b"", bad_time, *_history()[:40]]
    seen: list[tuple[str, int, str]] = []
    report = BacktestReport()
    list(backtest(lines, None, default_catalog(), CONFIG, report=report,
                  on_invalid=lambda name, number, reason: seen.append((name, number, reason))))
    assert [(name, number) for name, number, _ in seen] == [("ratings", 1), ("ratings", 3)]
    assert "not valid JSON" in seen[0][2]
    assert report.invalid == 2 and report.lines == 42
