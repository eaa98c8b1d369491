"""The ingest agent's stall watchdog: a partition Faust stopped delivering is sought to the agent's position.

Only Faust's public consumer interface (assignment, highwaters, seek through streams/positions.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import faust
from faust.types import TP, EventT

from streams.positions import AgentPositions

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0  # a partition with lag and nothing delivered for this long is sought again


class StallWatchdog:
    """Puts Faust's consumer back on the agent's positions when a partition's lag stands still.

    The worker is idle (nothing delivered over a whole check interval, no batch being stored, no
    rebalance) while a partition it owns has records past its position and the position has not
    moved since the previous check: Faust's fetcher is somewhere else (it can move its read
    position past records it then drops as already read). A seek to the position reads them again.
    """

    def __init__(
        self,
        app: faust.App,
        positions: AgentPositions,
        source_topics: frozenset[str],
        on_stall: Callable[[], None],
        storing: Callable[[], bool],
    ) -> None:
        self._app, self._positions = app, positions
        self._source_topics = source_topics
        self._on_stall = on_stall
        self._storing = storing  # a batch still being stored (e.g. ClickHouse down): not a stall
        self._active = False  # records arrived since the last check
        self._lag_before: dict[TP, tuple[int, int]] = {}  # partition -> (position, end) at the last check

    def arrived(self, events: Sequence[EventT[bytes]]) -> None:
        if events:
            self._active = True

    async def check(self) -> None:
        app = self._app
        active, self._active = self._active, False
        if active or self._storing() or app.rebalancing:
            self._lag_before.clear()
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self._source_topics]
        if not owned:
            return
        order = self._positions.order
        await self._positions.learn_starts({(tp.topic, tp.partition) for tp in owned})
        ends = await app.consumer.highwaters(*owned)  # asked of the broker: Faust may not fetch them at all
        lag: dict[TP, tuple[int, int]] = {}
        for tp in owned:
            position, end = order.expected((tp.topic, tp.partition)), ends.get(tp)
            if position is not None and end is not None and end > position:
                lag[tp] = (position, end)
        stuck = {tp: spot for tp, spot in lag.items() if self._lag_before.get(tp) == spot}
        self._lag_before = lag
        if stuck:
            described = ", ".join(f"{tp.topic}[{tp.partition}] {start}..{end}" for tp, (start, end) in stuck.items())
            log.warning("idle with lag that does not move (%s); seeking to the agent's positions", described)
            self._on_stall()
            self._lag_before.clear()
            await self._positions.seek({(tp.topic, tp.partition): start for tp, (start, _end) in stuck.items()})
