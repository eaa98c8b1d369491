"""Step observations on their way from the ingest workers to the spike detector that owns their step (pure).

The detector's baselines pool every province and matter of a step, so all observations of a step
must reach one detector: each goes to the partition of its step on the observations topic, with
the source record it came from (re-deliveries are recognised by offset) and, per batch, how far
in event time each source partition's ratings have come (the detector's watermark is the slowest).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from haochaping.observations import StepObservation
from haochaping.rows import Source


def detector_partition(step: str, partitions: int) -> int:
    """The observations partition of a step: stable across processes and releases (CRC-32)."""
    return zlib.crc32(step.encode()) % partitions


# Kafka's default request limit is 1 MB (producer max_request_size, broker message.max.bytes).
MESSAGE_BUDGET = 256 * 1024


@dataclass(frozen=True, slots=True)
class RoutedBatch:
    """What one ingest batch sends one detector partition: observations and rating-time progress."""

    observations: tuple[tuple[StepObservation, Source], ...]
    # Source partition -> how far its ratings are traced (epoch s), None when it is idle (caught up,
    # nothing parked) and holds no window open.
    rating_times: Mapping[int, float | None]

    def encode_chunks(self, max_bytes: int = MESSAGE_BUDGET) -> list[bytes]:
        """The batch as messages of at most ~`max_bytes` each, in order; only the last carries the rating times.

        Comments make observations up to a few kB each, so one batch's part can outgrow the
        producer's request limit (1 MB). Offsets per source rise within each chunk and from one
        chunk to the next (the detector skips what it counted before), and the rating times come
        last, so no window closes before the observations it covers have arrived.
        """
        encoded = [
            json.dumps(_observation_wire(observation, source), ensure_ascii=False, separators=(",", ":")).encode()
            for observation, source in self.observations
        ]
        times = json.dumps({str(p): at for p, at in self.rating_times.items()}, separators=(",", ":")).encode()
        chunks: list[list[bytes]] = [[]]
        size = 0
        for item in encoded:
            if chunks[-1] and size + len(item) + 1 > max_bytes:
                chunks.append([])
                size = 0
            chunks[-1].append(item)
            size += len(item) + 1
        messages = []
        for number, chunk in enumerate(chunks, start=1):
            rating_times = times if number == len(chunks) else b"{}"
            messages.append(b'{"observations":[' + b",".join(chunk) + b'],"rating_times":' + rating_times + b"}")
        return messages

    @classmethod
    def decode(cls, data: bytes) -> RoutedBatch:
        body = json.loads(data)
        observations = tuple(_observation_from_wire(item) for item in body["observations"])
        times = {int(p): (float(at) if at is not None else None) for p, at in body["rating_times"].items()}
        return cls(observations, times)


def route(
    observations: Iterable[tuple[StepObservation, Source]], rating_times: Mapping[int, float | None], partitions: int
) -> dict[int, RoutedBatch]:
    """One RoutedBatch per detector partition: its observations, and every partition gets the rating times."""
    by_partition: dict[int, list[tuple[StepObservation, Source]]] = {partition: [] for partition in range(partitions)}
    for observation, source in observations:
        by_partition[detector_partition(observation.step, partitions)].append((observation, source))
    return {partition: RoutedBatch(tuple(items), dict(rating_times)) for partition, items in by_partition.items()}


@dataclass(slots=True)
class SourceProgress:
    """A detector's view of every source partition's progress; its watermark is the slowest partition's.

    Until every source partition has reported there is no watermark: a partition whose ratings are
    still parked behind its case events must not be made late by the others.
    """

    partitions: int
    times: dict[int, float | None]
    latest: float = 0.0  # newest time any partition reported

    def update(self, reported: Mapping[int, float | None]) -> None:
        self.times.update(reported)
        for at in reported.values():
            if at is not None and at > self.latest:
                self.latest = at

    def watermark(self) -> float | None:
        if len(self.times) < self.partitions:
            return None
        busy = [at for at in self.times.values() if at is not None]
        if busy:
            return min(busy)
        return self.latest or None  # every partition idle: nothing is held back


def _observation_wire(observation: StepObservation, source: Source) -> dict[str, Any]:
    return {
        "rating_id": observation.rating_id,
        "at": observation.at.isoformat(),
        "province": observation.province,
        "matter_code": observation.matter_code,
        "mode": observation.mode,
        "step": observation.step,
        "role": observation.role,
        "org_code": observation.org_code,
        "level": observation.level,
        "weight": observation.weight,
        "reason": observation.reason,
        "comment": observation.comment,
        "source": [source.topic, source.partition, source.offset],
    }


def _observation_from_wire(item: dict[str, Any]) -> tuple[StepObservation, Source]:
    topic, partition, offset = item["source"]
    observation = StepObservation(
        rating_id=item["rating_id"],
        at=datetime.fromisoformat(item["at"]),
        province=item["province"],
        matter_code=item["matter_code"],
        mode=item["mode"],
        step=item["step"],
        role=item["role"],
        org_code=item["org_code"],
        level=int(item["level"]),
        weight=float(item["weight"]),
        reason=item["reason"],
        comment=item["comment"],
    )
    return observation, Source(str(topic), int(partition), int(offset))
