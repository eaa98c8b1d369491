"""The benchmark's input: simulated 好差评 traffic as Kafka records, and the topics that hold it.

Every measurement reads the same events: the simulator's stream with a low case arrival rate, so
that completed cases (and therefore ratings, about 5 % of events in steady state) are a realistic
share of a backlog rather than the first hours' trickle.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from haochaping.catalog import default_catalog
from haochaping.settings import Settings
from haochaping.simulation import SimulationConfig, Simulator

CASES_PER_HOUR = 10.0  # simulated; ratings reach their steady share (~5 %) within the first 50k events


@dataclass(frozen=True, slots=True)
class Record:
    kind: str  # "rating" | "case"
    key: bytes
    value: bytes
    negative: bool  # a rating with level <= 2 (the ones that get attribution rows)


def simulated(count: int, skip: int = 0, seed: int = 0) -> list[Record]:
    """`count` events of the simulated stream after the first `skip` (deterministic)."""
    simulator = Simulator(default_catalog(), SimulationConfig(seed=seed, cases_per_hour=CASES_PER_HOUR))
    return [_record(event.kind, event.payload) for event in itertools.islice(simulator.events(), skip, skip + count)]


def stream(seed: int = 0) -> Iterator[Record]:
    simulator = Simulator(default_catalog(), SimulationConfig(seed=seed, cases_per_hour=CASES_PER_HOUR))
    for event in simulator.events():
        yield _record(event.kind, event.payload)


def _record(kind: str, payload: dict[str, object]) -> Record:
    value = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    key = str(payload["case_id"] if payload.get("case_id") else payload.get("rating_id")).encode()
    level = payload.get("level")
    negative = kind == "rating" and isinstance(level, int) and level <= 2
    return Record(kind, key, value, negative)


def topic_of(settings: Settings, record: Record) -> str:
    return settings.topics["ratings"] if record.kind == "rating" else settings.topics["cases"]


def preload(settings: Settings, records: list[Record]) -> float:
    """Publish the records (keyed by case id, like the portals) and wait for the broker; returns seconds."""
    from kafka import KafkaProducer

    from producers.topics import ensure_topics

    ensure_topics(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="hcp-bench-preload",
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        compression_type="lz4",
    )
    started = time.perf_counter()
    try:
        for record in records:
            producer.send(topic_of(settings, record), key=record.key, value=record.value)
        producer.flush()
    finally:
        producer.close()
    return time.perf_counter() - started
