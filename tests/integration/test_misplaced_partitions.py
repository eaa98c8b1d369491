"""Ratings published by a librdkafka client with its default partitioner, as a provincial portal might.

confluent-kafka (librdkafka) hashes keys with CRC32 by default, not murmur2 as the contract and
kafka-python do, so many ratings land on another partition than their case's events. Two
workers in one group share the partitions: each misplaced rating must be re-sent to its case's
partition and traced there with the case's timeline, counted once, and the rows must equal those
of a control run where the same lines go through `hcp publish` (kafka-python, murmur2).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from confluent_kafka import KafkaError, Producer

from haochaping.decoding import decode_event
from haochaping.events import RatingEvent
from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.topics import ensure_topics
from streams.tables import partition_of
from tests.integration.conftest import WorkerProcess, free_port
from tests.integration.test_reliability_support import simulate, wait_for

COUNT = 6_000
# Every column but where and when a row was stored (a repaired rating's copy has other coordinates).
RATING_ROWS = "SELECT * EXCEPT (src_topic, src_partition, src_offset, ingested_at, insert_token) FROM ratings"
ATTRIBUTION_ROWS = "SELECT * EXCEPT (src_topic, src_partition, src_offset, ingested_at, insert_token) FROM attributions"


def test_misplaced_ratings_are_re_sent_and_traced_with_their_timeline(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], shared_clickhouse: str, tmp_path: Path
) -> None:
    lines = simulate(tmp_path, seed=17, count=COUNT)

    control = pipeline_settings.with_changes(
        topic_prefix=f"{pipeline_settings.topic_prefix}control.",
        consumer_group=f"{pipeline_settings.consumer_group}-control",
        data_dir=tmp_path / "control",
    )
    ensure_topics(control)
    with Publisher(control) as publisher:
        publisher.publish_lines(lines)
        publisher.flush()
    worker = worker_factory(control, tmp_path / "control.log")
    worker.start()
    worker.wait_until_drained(timeout=300)
    assert worker.stop() == 0
    expected_ratings, expected_attributions = _rows(control)
    with_timeline = sum(1 for row in expected_attributions if row[_column(control, "mode")])

    settings = pipeline_settings.with_changes(clickhouse_url=shared_clickhouse)
    ensure_topics(settings)
    misplaced = _publish_like_a_librdkafka_portal(settings, lines)
    assert 0 < misplaced < len(expected_ratings)
    workers = []
    for name in ("a", "b"):
        own = settings.with_changes(data_dir=tmp_path / f"worker-{name}", web_port=free_port())
        own.data_dir.mkdir(parents=True)
        workers.append(worker_factory(own, tmp_path / f"worker-{name}.log"))
        workers[-1].start()
    wait_for(
        lambda: all(_owns_partitions(worker.settings) for worker in workers), 180, "both workers to own partitions"
    )
    workers[0].wait_until_drained(timeout=300)  # the lag of every source partition, copies included
    counted = sum(_metric(worker.settings, "hcp_misplaced_records{") for worker in workers)
    resent = sum(_metric(worker.settings, "hcp_repaired_copies_sent ") for worker in workers)
    copies_taken = sum(_metric(worker.settings, "hcp_repaired_copies_taken ") for worker in workers)
    on_dashboards = sum(_misplaced_on_dashboard(worker.settings) for worker in workers)
    for worker in workers:
        assert worker.stop() == 0, worker.log_tail()

    ratings, attributions = _rows(settings)
    print(
        f"\nmisplaced by confluent-kafka's default partitioner: {misplaced} of {len(expected_ratings)} ratings; "
        f"counted by the workers: {counted}; re-sent {resent}, copies taken {copies_taken}; "
        f"attribution rows with a case timeline: "
        f"{sum(1 for row in attributions if row[_column(settings, 'mode')])} (control {with_timeline})"
    )
    assert counted == misplaced == resent == copies_taken
    assert on_dashboards == misplaced
    assert ratings == expected_ratings
    assert attributions == expected_attributions
    assert with_timeline > 0


def _publish_like_a_librdkafka_portal(settings: Settings, lines: list[bytes]) -> int:
    """Case events through `hcp publish`'s publisher, ratings through confluent-kafka's defaults.

    Returns how many ratings confluent-kafka put on another partition than murmur2 would.
    """
    delivered: list[tuple[bytes, int]] = []
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, message: object) -> None:
        if error is not None:
            failures.append(str(error))
        else:
            delivered.append((message.key(), message.partition()))  # type: ignore[attr-defined]

    portal = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    with Publisher(settings) as publisher:
        for line in lines:
            event = decode_event(line)
            if isinstance(event, RatingEvent):
                topic = settings.province_topics.get(event.province, settings.topics["ratings"])
                portal.produce(topic, key=event.partition_key.encode(), value=line, on_delivery=on_delivery)
                portal.poll(0)
            else:
                publisher.publish(line)
        publisher.flush()
    assert portal.flush(60) == 0 and not failures, failures
    return sum(1 for key, partition in delivered if partition != partition_of(key, settings.partitions))


def _rows(settings: Settings) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    from sinks.clickhouse import open_clickhouse

    with open_clickhouse(settings.clickhouse, owner="misplaced-partitions test") as client:
        ratings = sorted(map(tuple, client.query(RATING_ROWS).result_rows), key=repr)
        attributions = sorted(map(tuple, client.query(ATTRIBUTION_ROWS).result_rows), key=repr)
    return ratings, attributions


def _column(settings: Settings, name: str) -> int:
    from sinks.clickhouse import open_clickhouse

    with open_clickhouse(settings.clickhouse, owner="misplaced-partitions test") as client:
        names = client.query(f"{ATTRIBUTION_ROWS} LIMIT 0").column_names
    return list(names).index(name)


def _owns_partitions(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/hcp/health", timeout=5) as response:
            assigned = json.loads(response.read()).get("assigned", {})
    except (OSError, ValueError):
        return False
    return bool(assigned.get(settings.topics["cases"]))


def _misplaced_on_dashboard(settings: Settings) -> int:
    """What the worker's live dashboard shows: records on the wrong partition, per topic."""
    url = f"http://127.0.0.1:{settings.web_port}/dashboard/data.json"
    with urllib.request.urlopen(url, timeout=30) as response:
        shown = json.loads(response.read())["worker"]["misplaced_by_topic"]
    assert all(topic in settings.source_topics for topic in shown), shown
    return sum(int(count) for count in shown.values())


def _metric(settings: Settings, prefix: str) -> int:
    """The sum of the worker's /metrics lines starting with `prefix` (one per topic for labelled ones)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith(prefix))
