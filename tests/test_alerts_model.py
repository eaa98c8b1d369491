"""Alert wire format and the analyst query: exact fields, safe literals."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from haochaping.alerts import SpikeDetector
from haochaping.alerts.query import evidence_query
from tests.test_alerts_support import CN, CONFIG, flat, run_windows

WIRE_FIELDS = [
    "alert_id", "state", "province", "matter_code", "step", "window_start", "window_end", "ratings",
    "negatives", "rate", "baseline", "score", "top_reasons", "examples", "organisations", "query",
]


def test_wire_has_exactly_the_contract_fields() -> None:
    [alert] = flat(run_windows(SpikeDetector(CONFIG), 0, [(200, 4)] * 10 + [(200, 40)]))
    wire = alert.to_wire()
    assert list(wire) == WIRE_FIELDS
    assert wire["state"] == "firing"
    assert (wire["province"], wire["matter_code"], wire["step"]) == ("340000", "HCP-RS-CBZM", "DATA_SHARE")
    assert (wire["window_start"], wire["window_end"]) == ("2026-11-16T10:00:00+08:00", "2026-11-16T11:00:00+08:00")
    assert (wire["ratings"], wire["negatives"], wire["rate"]) == (200, 40.0, 0.2)
    assert wire["top_reasons"] == [{"reason": "DATA_NOT_SHARED", "label": "数据未共享", "negatives": 40.0}]
    assert wire["organisations"] == [{"org": "340000-RSJ-SJ", "role": "DATA_PROVIDER", "ratings": 200, "negatives": 40.0}]
    assert all("[手机号]" in example for example in wire["examples"])
    json.dumps(wire, ensure_ascii=False)  # plain JSON types only


def test_query_names_the_key_and_window_in_utc() -> None:
    start, end = datetime(2026, 11, 20, 6, tzinfo=CN), datetime(2026, 11, 20, 12, tzinfo=CN)
    query = evidence_query("340000", "HCP-RS-CBZM", "DATA_SHARE", start, end)
    assert "o.province = '340000'" in query
    assert "o.step = 'DATA_SHARE'" in query
    assert "o.matter_code = 'HCP-RS-CBZM'" in query
    assert "o.rated_at >= toDateTime64('2026-11-19 22:00:00.000', 3, 'UTC')" in query
    assert "o.rated_at < toDateTime64('2026-11-20 04:00:00.000', 3, 'UTC')" in query
    assert "FROM step_observations AS o" in query and "LEFT JOIN attributions AS a" in query


@pytest.mark.parametrize(
    ("province", "matter", "step"),
    [("340000' OR 1=1 --", None, "REVIEW"), ("340000", "X'; DROP TABLE ratings; --", "REVIEW"), ("340000", None, "1")],
)
def test_query_refuses_values_that_are_not_codes(province: str, matter: str | None, step: str) -> None:
    moment = datetime(2026, 11, 20, 6, tzinfo=CN)
    with pytest.raises(ValueError, match="not a"):
        evidence_query(province, matter, step, moment, moment)
