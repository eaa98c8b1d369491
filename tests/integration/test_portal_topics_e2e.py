"""A portal may only publish ratings for its own province (issue #7), on a real broker and worker.

A rating for 310000 sent to 110000's portal topic is dead-lettered with its original bytes and a
reason naming both; a rating on its own province's topic and one relayed through the shared
ratings topic are stored. Also measures how long the worker takes to start with every portal topic.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from kafka import KafkaConsumer

from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import WorkerProcess
from tests.wire import case_event, encode, rating

FOREIGN = encode(rating(rating_id="R-FOREIGN", province="310000"))


def _owns_every_source_partition(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/hcp/health", timeout=5) as response:
            assigned = json.loads(response.read()).get("assigned", {})
    except (OSError, ValueError):
        return False
    every = list(range(settings.partitions))
    return all(assigned.get(topic) == every for topic in settings.source_topics)


def _dead_letters(settings: Settings, expected: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = KafkaConsumer(
        settings.topics["deadletter"],
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        received = []
        for record in consumer:
            received.append((record.value, dict(record.headers)))
            if len(received) >= expected:
                break
        return received
    finally:
        consumer.close()


def test_a_portal_can_only_rate_its_own_province(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings
    assert settings.portal_topics and len(settings.source_topics) > 30
    started = time.monotonic()
    counts = ensure_topics(settings)
    created = time.monotonic()
    assert all(counts[topic] == settings.partitions for topic in settings.source_topics)

    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    deadline = time.monotonic() + 180
    while not _owns_every_source_partition(settings):
        assert worker.running(), worker.log_tail()
        assert time.monotonic() < deadline, f"worker not consuming every portal topic:\n{worker.log_tail()}"
        time.sleep(0.2)
    consuming = time.monotonic()
    print(
        f"\n{len(settings.source_topics)} source topics x {settings.partitions} partitions: topics created in "
        f"{created - started:.1f} s; worker consuming all of them {consuming - created:.1f} s after its start"
    )

    with Publisher(settings) as publisher:  # a portal: routed by each rating's province
        assert not hasattr(publisher.publish(encode(case_event(event_id="E-0001", action="complete"))), "reason")
        assert not hasattr(publisher.publish(encode(rating(rating_id="R-OWN", province="340000"))), "reason")
        # A portal of 110000 publishing a rating of 310000 on its own topic (what broker ACLs allow it).
        publisher.send_unchecked(settings.province_topics["110000"], b"C-0001", FOREIGN)
    with Publisher(settings, relay=True) as relay:  # the national platform's relay: shared topic, not checked
        assert not hasattr(relay.publish(encode(rating(rating_id="R-RELAY", province="310000"))), "reason")

    worker.wait_until_drained(timeout=300)
    assert worker.stop() == 0

    reason = f"province 310000 does not match portal topic {settings.province_topics['110000']} (110000)"
    with open_clickhouse(settings.clickhouse, owner="test") as client:
        ratings = client.query("SELECT rating_id, province, src_topic FROM ratings ORDER BY rating_id").result_rows
        dead = client.query("SELECT reason, size_bytes, src_topic FROM dead_letters").result_rows
    assert ratings == [
        ("R-OWN", "340000", settings.province_topics["340000"]),
        ("R-RELAY", "310000", settings.topics["ratings"]),
    ]
    assert dead == [(reason, len(FOREIGN), settings.province_topics["110000"])]

    [(value, headers)] = _dead_letters(settings, 1)
    assert value == FOREIGN  # the original bytes
    assert headers["hcp-reason"].decode() == reason
    assert headers["hcp-source-topic"].decode() == settings.province_topics["110000"]
