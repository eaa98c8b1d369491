"""The alert stage: ingest batches' step observations → observations topic (by step) → detector agent → alerts.

Each detector partition keeps its own SpikeDetector in a changelogged table, with the highest
source offset it has counted per source partition (a re-sent observation is not counted twice) and
each source partition's rating time (its watermark is the slowest). Whichever worker holds the
ratings, every observation of a step reaches the one detector of that step (haochaping/alerts/routing.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import faust
from faust.types import TP, EventT, StreamT

from haochaping.alerts import Alert, DetectorConfig, SpikeDetector
from haochaping.alerts.routing import RoutedBatch, SourceProgress, route
from haochaping.ingest import IngestBatch
from haochaping.settings import Settings
from producers.sources import PositionStore
from sinks.alerts import write_alerts
from sinks.webhooks import WebhookSender
from sinks.writer import ClickHouseWriter
from streams.app import at_start, event_batches, on_signal
from streams.positions import AgentPositions
from streams.retry import until_written
from streams.tables import delivered, put

log = logging.getLogger(__name__)


def detector_config(settings: Settings) -> DetectorConfig:
    config = DetectorConfig()
    if settings.alert_window_seconds:
        config = replace(config, window=timedelta(seconds=settings.alert_window_seconds))
    if settings.alert_min_ratings:
        config = replace(config, min_ratings=settings.alert_min_ratings)
    return config


@dataclass(slots=True)
class DetectorCounters:
    observations: int = 0
    repeated: int = 0  # re-sent after a crash or rebalance: already counted
    late: int = 0  # dropped by the detector: their window had closed
    alerts: int = 0


class ObservationRouter:
    """Ingest side: sends a batch's observations to their step's detector partition, with rating times."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self._topic = app.topic(settings.topics["observations"], value_type=bytes, key_type=bytes)
        self._partitions = settings.partitions

    async def send(self, batch: IngestBatch, progress: Mapping[int, float | None]) -> None:
        """`progress`: how far each source partition this worker owns has traced its ratings (None: idle)."""
        if not batch.observations and not progress:
            return
        observed = zip(batch.observations, batch.observation_sources, strict=True)
        routed = route(observed, progress, self._partitions)
        pending = [
            await self._topic.send(key=str(partition).encode(), value=message, partition=partition)
            for partition, part in routed.items()
            if part.observations or part.rating_times
            for message in part.encode_chunks()
        ]
        await asyncio.gather(*pending)  # on the topic before the source records are acknowledged


@dataclass(slots=True)
class _PartitionDetector:
    detector: SpikeDetector
    progress: SourceProgress
    counted: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> highest offset observed

    def encode(self) -> bytes:
        times = {str(p): at for p, at in self.progress.times.items()}
        envelope = {"counted": self.counted, "rating_times": times, "latest": self.progress.latest}
        return json.dumps(envelope, separators=(",", ":")).encode() + b"\n" + self.detector.encode()

    def take(self, routed: RoutedBatch, counters: DetectorCounters) -> None:
        counted, highest = self.counted, dict[str, int]()
        for observation, source in routed.observations:
            mark = f"{source.topic}/{source.partition}"
            if source.offset <= counted.get(mark, -1):
                counters.repeated += 1
                continue
            self.detector.observe(observation)
            counters.observations += 1
            highest[mark] = max(highest.get(mark, -1), source.offset)
        counted.update(highest)
        self.progress.update(routed.rating_times)

    def watermark(self) -> datetime | None:
        at = self.progress.watermark()
        return datetime.fromtimestamp(at, UTC) if at is not None else None


class DetectorStage:
    """Detector side: one SpikeDetector per observations partition, saved after every batch."""

    def __init__(self, app: faust.App, settings: Settings, writer: ClickHouseWriter) -> None:
        self._config = detector_config(settings)
        self._partitions = settings.partitions
        self._table = app.Table(
            "alert_detector",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            help="per observations partition: spike detector state, counted source offsets, rating times",
        )
        # acks=False: like the source topics, the agent commits its own positions (streams/positions.py).
        self.observations = app.topic(settings.topics["observations"], value_type=bytes, key_type=bytes, acks=False)
        self.positions = AgentPositions(app, PositionStore(settings), "detector")
        self._alerts = app.topic(settings.topics["alerts"], value_type=bytes, key_type=bytes)
        self._deadletter = app.topic(settings.topics["deadletter"], value_type=bytes, key_type=bytes)
        self._writer = writer
        self._detectors: dict[int, _PartitionDetector] = {}
        self.counters = DetectorCounters()
        self.webhooks = WebhookSender(
            settings.webhook_urls, settings.webhook_secret, settings.webhook_max_attempts, self._give_up
        )

    async def take(self, events: list[EventT[bytes]]) -> list[Alert]:
        """Admits the batch in partition order, detects, and commits the positions once the state is saved."""
        admission = await self.positions.admit(events)
        alerts = await self.process(admission.fresh)
        await self.positions.commit(self.positions.taken(events))
        return alerts

    async def process(self, events: list[EventT[bytes]]) -> list[Alert]:
        touched: set[int] = set()
        for event in events:
            partition = event.message.partition
            self._load(partition).take(RoutedBatch.decode(event.message.value or b""), self.counters)
            touched.add(partition)
        alerts: list[Alert] = []
        saved = []
        for partition in sorted(touched):
            state = self._detectors[partition]
            alerts.extend(state.detector.advance(state.watermark()))
            late = state.detector.take_dropped_late()
            if late:
                self.counters.late += late
                log.warning("spike detector %d: %d step observations dropped, their window had closed", partition, late)
            saved.append(put(self._table, _key(partition), state.encode(), partition))
        if alerts:
            self.counters.alerts += len(alerts)
            await self._emit(alerts)
        await delivered(saved)  # before the observations' positions are committed
        return alerts

    def forget(self, partitions: Set[int]) -> None:
        """After a rebalance: these partitions' detectors are read again from the table when next needed."""
        for partition in partitions:
            self._detectors.pop(partition, None)

    def _load(self, partition: int) -> _PartitionDetector:
        state = self._detectors.get(partition)
        if state is None:
            state = self._detectors[partition] = self._restore(partition)
        return state

    def _restore(self, partition: int) -> _PartitionDetector:
        stored = self._table.get(_key(partition))
        if not isinstance(stored, bytes):
            return self._fresh()
        head, _, body = stored.partition(b"\n")
        try:
            envelope = json.loads(head)
            detector = SpikeDetector.decode(body, self._config)
        except ValueError as error:
            # A state from another detector version or window size: learning again is better
            # than refusing to start; say so loudly.
            log.error("cannot restore spike detector %d (%s); starting with an empty one", partition, error)
            return self._fresh()
        times = {int(p): (float(at) if at is not None else None) for p, at in envelope["rating_times"].items()}
        progress = SourceProgress(self._partitions, times, float(envelope["latest"]))
        log.info("restored spike detector %d (%d keys tracked)", partition, detector.tracked_keys)
        return _PartitionDetector(detector, progress, {k: int(v) for k, v in envelope["counted"].items()})

    def _fresh(self) -> _PartitionDetector:
        return _PartitionDetector(SpikeDetector(self._config), SourceProgress(self._partitions, {}))

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
            pending.append(await self._alerts.send(key=alert.alert_id.encode(), value=body))
            self.webhooks.submit(wire)
        await asyncio.gather(*pending)
        await until_written(functools.partial(self._writer.write_keyed, write_alerts, alerts), "alerts")

    async def _give_up(self, url: str, body: bytes, reason: str) -> None:
        headers = [("hcp-reason", reason.encode("utf-8")), ("hcp-source-topic", b"webhook")]
        await (await self._deadletter.send(key=None, value=body, headers=headers))


def _key(partition: int) -> bytes:
    return f"detector/{partition}".encode()


def register_detector(app: faust.App, settings: Settings, writer: ClickHouseWriter) -> DetectorStage:
    stage = DetectorStage(app, settings, writer)

    @app.agent(stage.observations, concurrency=1, name="detect_spikes")
    async def detect_spikes(stream: StreamT[bytes]) -> None:
        try:
            async for events in event_batches(stream, 1_000, settings.batch_seconds):
                await stage.take(events)
        except Exception as error:
            log.critical("spike detection failed, stopping the worker: %r", error, exc_info=True)
            await app.crash(error)

    async def forget_detectors(sender: object, revoked: Set[TP], *args: object, **kwargs: object) -> None:
        stage.forget({tp.partition for tp in revoked if tp.topic == settings.topics["observations"]})

    async def keep_owned(sender: object, assigned: Set[TP], *args: object, **kwargs: object) -> None:
        stage.positions.keep_only(assigned)

    on_signal(app.on_partitions_revoked, forget_detectors)
    on_signal(app.on_partitions_assigned, keep_owned)
    if stage.webhooks.enabled:
        at_start(app, stage.webhooks.run)

    return stage
