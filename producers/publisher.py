"""The portal-side publisher: validates each event, then sends its original bytes to Kafka.

Keyed by case id so every event of one case lands on one partition in order;
acks=all with idempotence so a broker restart neither loses nor duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaProducer

from haochaping.decoding import Rejection, decode_event
from haochaping.events import RatingEvent
from haochaping.settings import Settings
from producers.security import kafka_client

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PublishReport:
    sent_ratings: int = 0
    sent_case_events: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def sent(self) -> int:
        return self.sent_ratings + self.sent_case_events


class Publisher:
    """Sends ratings to the portal topic of their province, case events to the case-events topic.

    `relay=True` sends every rating to the shared ratings topic instead: for the national
    platform's trusted relay and for replays, whose credential alone may write that topic.
    With HCP_PORTAL_TOPICS=0 every rating goes to the shared topic.
    """

    def __init__(self, settings: Settings, client_id: str = "hcp-publisher", *, relay: bool = False) -> None:
        self._topics = settings.topics
        self._province_topics = {} if relay else settings.province_topics
        self._producer = kafka_client(
            KafkaProducer,
            settings,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=10,
            batch_size=256 * 1024,
            compression_type="lz4",
            retries=2**31 - 1,
            delivery_timeout_ms=120_000,
        )

    def publish(self, raw: bytes) -> Rejection | RatingEvent | object:
        """Validate and send one JSON event; returns the Rejection or the decoded event."""
        decoded = decode_event(raw)
        if isinstance(decoded, Rejection):
            return decoded
        if isinstance(decoded, RatingEvent):
            topic = self._province_topics.get(decoded.province, self._topics["ratings"])
        else:
            topic = self._topics["cases"]
        self._producer.send(topic, key=decoded.partition_key.encode(), value=raw).add_errback(_log_failure, topic)
        return decoded

    def publish_lines(self, lines: Iterable[bytes], report: PublishReport | None = None) -> PublishReport:
        report = report or PublishReport()
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line:
                continue
            result = self.publish(line)
            if isinstance(result, Rejection):
                report.refused.append((number, result.reason))
            elif isinstance(result, RatingEvent):
                report.sent_ratings += 1
            else:
                report.sent_case_events += 1
        return report

    def send_unchecked(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Send bytes as they are, without validation: for replaying dead letters and for tests."""
        self._producer.send(topic, key=key, value=value).add_errback(_log_failure, topic)

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        """Flush everything still buffered, then close."""
        self._producer.flush()
        self._producer.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _log_failure(error: BaseException, topic: str) -> None:
    log.error("could not deliver a message to %s: %s", topic, error)
