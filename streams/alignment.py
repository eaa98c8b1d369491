"""Applies the core's event-time alignment to the Faust consumer: a ratings partition is paused
while its case-events partition still has unprocessed events, and resumed when they catch up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import faust
from faust.types import TP

from haochaping.alignment import EventTimeAlignment
from haochaping.ingest import IngestBatch
from haochaping.settings import Settings

log = logging.getLogger(__name__)


class RatingsAligner:
    def __init__(self, app: faust.App, settings: Settings, alignment: EventTimeAlignment) -> None:
        self._app = app
        self._ratings = settings.topics["ratings"]
        self._cases = settings.topics["cases"]
        self._alignment = alignment
        self._held: set[TP] = set()
        self._next_case_offset: dict[int, int] = {}
        self._wrapped = False

    def saw(self, batch: IngestBatch) -> None:
        for partition, latest in batch.latest_case_at.items():
            self._alignment.saw_case_events(partition, latest)
        for partition, latest in batch.latest_rating_at.items():
            self._alignment.saw_ratings(partition, latest)
        self._next_case_offset.update(batch.next_case_offset)

    def hold_all(self, assigned: Iterable[TP]) -> None:
        """On assignment: hold every ratings partition until its case events are known to be caught up."""
        self._alignment.forget()
        self._next_case_offset.clear()
        self._guard_resume()
        held = {tp for tp in assigned if tp.topic == self._ratings}
        self._held = held
        if held:
            self._app.consumer.pause_partitions(held)

    async def apply(self) -> None:
        consumer = self._app.consumer
        self._guard_resume()
        now = time.monotonic()
        for tp in sorted(consumer.assignment()):
            if tp.topic != self._ratings:
                continue
            hold = self._alignment.hold_ratings(tp.partition, self._caught_up(tp.partition), now)
            if hold and tp not in self._held:
                self._held.add(tp)
                consumer.pause_partitions([tp])
                log.info("holding %s[%d] until its case events catch up", tp.topic, tp.partition)
            elif not hold and tp in self._held:
                self._held.discard(tp)
                consumer.resume_partitions([tp])
                log.info("released %s[%d]: its case events have caught up", tp.topic, tp.partition)

    def _caught_up(self, partition: int) -> bool:
        consumer = self._app.consumer
        tp = TP(self._cases, partition)
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet
            return False
        if highwater is None or highwater < 0:
            return False
        following = self._next_case_offset.get(partition)
        if following is None:
            # Nothing processed here yet: caught up only if the committed position is the end.
            following = consumer._committed_offset.get(tp) or 0
        return bool(following >= highwater)

    def _guard_resume(self) -> None:
        """Faust resumes every partition after a rebalance; keep the held ones paused."""
        if self._wrapped:
            return
        consumer = self._app.consumer
        resume = consumer.resume_partitions

        def resume_unless_held(tps: Iterable[TP]) -> None:
            resume([tp for tp in tps if tp not in self._held])

        consumer.resume_partitions = resume_unless_held
        self._wrapped = True


def register_alignment(app: faust.App, settings: Settings) -> RatingsAligner:
    aligner = RatingsAligner(app, settings, EventTimeAlignment(settings.align_max_hold_seconds))

    @app.timer(interval=0.5)
    async def align_ratings() -> None:
        await aligner.apply()

    @app.on_partitions_assigned.connect
    async def hold_ratings_on_assignment(sender: object, assigned: Iterable[TP], **kwargs: object) -> None:
        aligner.hold_all(assigned)

    return aligner
