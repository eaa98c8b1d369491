"""The alert stage of the worker: step observations → spike detector → topic, ClickHouse, webhooks, log.

The detector state lives in a changelog-backed table, saved with the highest source offset
it has seen per partition, so a batch re-delivered after a crash is not counted twice.
Runs in the ingest agent after each batch is stored, before its offsets are acknowledged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import faust

from haochaping.alerts import Alert, DetectorConfig, SpikeDetector
from haochaping.ingest import IngestBatch
from haochaping.settings import Settings
from sinks.alerts import write_alerts
from sinks.webhooks import WebhookSender
from sinks.writer import ClickHouseWriter
from streams.retry import until_written
from streams.tables import put

log = logging.getLogger(__name__)

DETECTOR_KEY = b"detector"
DETECTOR_PARTITION = 0  # one detector per pipeline: its state lives with source partition 0


def detector_config(settings: Settings) -> DetectorConfig:
    config = DetectorConfig()
    if settings.alert_window_seconds:
        config = replace(config, window=timedelta(seconds=settings.alert_window_seconds))
    if settings.alert_min_ratings:
        config = replace(config, min_ratings=settings.alert_min_ratings)
    return config


class AlertStage:
    def __init__(self, app: faust.App, settings: Settings, writer: ClickHouseWriter) -> None:
        self._config = detector_config(settings)
        self._table = app.Table(
            "alert_detector",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            help="spike detector state and the source offsets it has counted",
        )
        self._topic = app.topic(settings.topics["alerts"], value_type=bytes, key_type=bytes)
        self._deadletter = app.topic(settings.topics["deadletter"], value_type=bytes, key_type=bytes)
        self._writer = writer
        self._detector: SpikeDetector | None = None
        self._counted: dict[str, int] = {}  # "topic/partition" -> highest offset observed
        # Newest rating time per partition; the watermark is the slowest partition's, so a
        # partition that is ahead (a backlog read side by side) does not make the others late.
        self._rating_time: dict[int, float] = {}
        self.webhooks = WebhookSender(
            settings.webhook_urls, settings.webhook_secret, settings.webhook_max_attempts, self._give_up
        )

    async def process(self, batch: IngestBatch) -> list[Alert]:
        detector = self._load()
        counted = self._counted
        highest: dict[str, int] = {}
        for observation, source in zip(batch.observations, batch.observation_sources, strict=True):
            mark = f"{source.topic}/{source.partition}"
            if source.offset <= counted.get(mark, -1):
                continue  # re-delivered after a crash: already in the detector's state
            detector.observe(observation)
            highest[mark] = max(highest.get(mark, -1), source.offset)
        counted.update(highest)
        for partition, latest in batch.latest_rating_at.items():
            self._rating_time[partition] = max(self._rating_time.get(partition, latest), latest)
        alerts = detector.advance(self._watermark())
        self._save(detector)
        if alerts:
            await self._emit(alerts)
        return alerts

    def forget_partitions(self) -> None:
        self._rating_time.clear()

    def _watermark(self) -> datetime | None:
        if not self._rating_time:
            return None
        return datetime.fromtimestamp(min(self._rating_time.values()), UTC)

    def _load(self) -> SpikeDetector:
        if self._detector is None:
            stored = self._table.get(DETECTOR_KEY)
            if stored is None:
                self._detector = SpikeDetector(self._config)
            else:
                try:
                    envelope = json.loads(stored[: stored.index(b"\n")])
                    self._detector = SpikeDetector.decode(stored[stored.index(b"\n") + 1 :], self._config)
                except ValueError as error:
                    # A state from another detector version or window size: learning again is
                    # better than refusing to start; say so loudly.
                    log.error("cannot restore the spike detector (%s); starting with an empty one", error)
                    self._detector = SpikeDetector(self._config)
                else:
                    self._counted = {key: int(value) for key, value in envelope.items()}
                    log.info("restored the spike detector (%d keys tracked)", self._detector.tracked_keys)
        return self._detector

    def _save(self, detector: SpikeDetector) -> None:
        envelope = json.dumps(self._counted, separators=(",", ":")).encode()
        put(self._table, DETECTOR_KEY, envelope + b"\n" + detector.encode(), DETECTOR_PARTITION)

    async def _emit(self, alerts: list[Alert]) -> None:
        pending = []
        for alert in alerts:
            wire = alert.to_wire()
            log.warning(
                "ALERT %s %s province=%s matter=%s step=%s rate=%.3f baseline=%.3f ratings=%d negatives=%.1f id=%s",
                alert.state,
                alert.window_start.isoformat(),
                alert.province,
                alert.matter_code or "*",
                alert.step,
                alert.rate,
                alert.baseline,
                alert.ratings,
                alert.negatives,
                alert.alert_id,
            )
            body = json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            pending.append(await self._topic.send(key=alert.alert_id.encode(), value=body))
            self.webhooks.submit(wire)
        await asyncio.gather(*pending)
        await until_written(functools.partial(self._writer.write_keyed, write_alerts, alerts), "alerts")

    async def _give_up(self, url: str, body: bytes, reason: str) -> None:
        headers = [("hcp-reason", reason.encode("utf-8")), ("hcp-source-topic", b"webhook")]
        await (await self._deadletter.send(key=None, value=body, headers=headers))


def register_alerts(app: faust.App, settings: Settings, writer: ClickHouseWriter) -> AlertStage:
    stage = AlertStage(app, settings, writer)

    @app.on_partitions_revoked.connect
    async def forget_watermarks(sender: object, revoked: object, **kwargs: object) -> None:
        stage.forget_partitions()

    if stage.webhooks.enabled:

        @app.task
        async def deliver_webhooks() -> None:
            await stage.webhooks.run()

    return stage
