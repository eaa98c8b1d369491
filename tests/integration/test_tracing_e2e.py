"""A rating published through Kafka arrives in ClickHouse as an attribution with the right step and
organisation, traced against a case timeline that only survived in the worker's changelog-backed table.
"""

from __future__ import annotations

import json
from pathlib import Path

from kafka import KafkaConsumer

from haochaping.catalog import default_catalog
from haochaping.decoding import decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.settings import Settings
from haochaping.timeline import CaseTimeline
from haochaping.tracing import trace
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import WorkerProcess
from tests.wire import case_event, encode, rating

CASE = "C-XSEDJ-0001"
MATTER = "HCP-GA-XSEDJ"  # 新生儿户口登记, proxy: received in 安徽, handled in 上海
HEFEI = {"code": "340100-ZWFW", "name": "合肥市政务服务中心", "province": "340000", "role": "RECEIVING"}
SHANGHAI = {"code": "310101-GAJ", "name": "上海市黄浦区公安分局户政科", "province": "310000", "role": "HANDLING"}


def _case_events() -> list[dict[str, object]]:
    steps = [
        ("ACCEPT", "start", HEFEI, "2026-11-02T09:00:00+08:00"),
        ("ACCEPT", "complete", HEFEI, "2026-11-02T09:30:00+08:00"),
        ("TRANSFER", "start", HEFEI, "2026-11-02T10:00:00+08:00"),
        ("TRANSFER", "transfer_out", HEFEI, "2026-11-03T10:00:00+08:00"),
        ("TRANSFER", "transfer_in", SHANGHAI, "2026-11-13T10:00:00+08:00"),
        ("TRANSFER", "complete", SHANGHAI, "2026-11-13T10:30:00+08:00"),
        ("REVIEW", "start", SHANGHAI, "2026-11-13T11:00:00+08:00"),
        ("REVIEW", "complete", SHANGHAI, "2026-11-16T16:00:00+08:00"),
    ]
    return [
        case_event(
            event_id=f"E-{index:03d}",
            case_id=CASE,
            matter_code=MATTER,
            mode="proxy",
            step=step,
            action=action,
            org=org,
            at=at,
        )
        for index, (step, action, org, at) in enumerate(steps)
    ]


VAGUE_RATING = rating(
    rating_id="R-VAGUE-1",
    case_id=CASE,
    matter_code=MATTER,
    province="340000",
    channel="app",
    level=1,
    tags=[],
    comment="太慢了",
    step=None,
    rated_at="2026-11-20T10:00:00+08:00",
    rater=None,
)


def _expected_attribution() -> dict[str, object]:
    """The batch engine's answer for the same events: the stream must agree with it exactly."""
    events = [decode_event(encode(event)) for event in _case_events()]
    timeline = CaseTimeline.from_events(event for event in events if isinstance(event, CaseEvent))
    rating_event = decode_event(encode(VAGUE_RATING))
    assert isinstance(rating_event, RatingEvent)
    return trace(rating_event, timeline, default_catalog()).to_wire()


def _attributions_topic(settings: Settings) -> list[dict[str, object]]:
    consumer = KafkaConsumer(
        settings.topics["attributions"],
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        for record in consumer:
            return [json.loads(record.value)]
        return []
    finally:
        consumer.close()


def test_rating_traced_against_restored_timeline(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings
    ensure_topics(settings)
    with Publisher(settings) as publisher:
        for event in _case_events():
            publisher.publish(encode(event))

    first = worker_factory(settings, tmp_path / "worker-1.log")
    first.start()
    first.wait_until_drained()
    assert first.stop() == 0

    # The timeline now lives only in the table's changelog topic; a new process must restore it.
    with Publisher(settings) as publisher:
        publisher.publish(encode(VAGUE_RATING))
    second = worker_factory(settings, tmp_path / "worker-2.log")
    second.start()
    second.wait_until_drained()
    assert second.stop() == 0

    expected = _expected_attribution()
    assert expected["step"] == "TRANSFER"
    assert expected["responsible"] is not None
    assert _attributions_topic(settings) == [expected]

    with open_clickhouse(settings.clickhouse, owner="test") as client:
        primary = client.query(
            "SELECT rating_id, step, reason, responsible_role, responsible_province, responsible_org, mode "
            "FROM attributions WHERE is_primary = 1"
        ).result_rows
        steps = client.query(
            "SELECT step, org_code, org_province, breached, handoff_from_province, handoff_to_province "
            "FROM case_steps ORDER BY completed_at"
        ).result_rows
        candidates = client.query("SELECT count() FROM attributions").result_rows[0][0]
    responsible = expected["responsible"]
    assert isinstance(responsible, dict)
    assert primary == [
        (
            "R-VAGUE-1",
            "TRANSFER",
            expected["reason"],
            responsible["role"],
            responsible["province"],
            responsible["org"],
            "proxy",
        ),
    ]
    assert responsible["org"] in {HEFEI["code"], SHANGHAI["code"]}
    assert candidates == len(expected["steps"])  # type: ignore[arg-type]
    assert [row[:4] for row in steps] == [
        ("ACCEPT", "340100-ZWFW", "340000", 0),
        ("TRANSFER", "310101-GAJ", "310000", 1),
        ("REVIEW", "310101-GAJ", "310000", 0),
    ]
    assert steps[1][4:] == ("340000", "310000")
