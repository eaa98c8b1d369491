"""Throughput of trace() on one core: `python -m haochaping.tracing.bench [seconds] [ratings]`.

Rates are per CPU-second of this process (time.process_time), so a busy machine does not
distort them much. Two workloads: the simulated stream (what the worker sees: every rating
joined to its case timeline, decoded from table bytes) and the labelled evaluation set (only
complaints, the worst case for the text reader).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable

from haochaping.catalog import default_catalog
from haochaping.decoding import decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.simulation import SimulationConfig, Simulator
from haochaping.timeline import CaseTimeline
from haochaping.tracing import reading
from haochaping.tracing.engine import trace
from haochaping.tracing.evaluate import DEFAULT_PATH, load

Work = list[tuple[RatingEvent, bytes | None]]


def simulated_stream(ratings: int, seed: int = 1) -> Work:
    """Ratings of the simulator's stream, each with its case timeline as encoded at rating time."""
    timelines: dict[str, CaseTimeline] = {}
    work: Work = []
    for simulated in Simulator(default_catalog(), SimulationConfig(seed=seed)).events():
        event = decode_event(json.dumps(simulated.payload).encode())
        if isinstance(event, CaseEvent):
            timeline = timelines.get(event.case_id)
            if timeline is None:
                timeline = timelines[event.case_id] = CaseTimeline(event.case_id, event.matter_code, event.mode)
            timeline.add(event)
        elif isinstance(event, RatingEvent):
            case = timelines.get(event.case_id) if event.case_id is not None else None
            work.append((event, case.encode() if case is not None else None))
            if len(work) >= ratings:
                break
    return work


def eval_set() -> Work:
    return [(item.rating, item.timeline.encode() if item.timeline is not None else None) for item in load(DEFAULT_PATH)]


def rate(work: Work, seconds: float, fresh_text: bool) -> float:
    """Ratings per CPU-second, decoding each timeline from bytes as the worker does."""
    catalog = default_catalog()
    cached = reading.cached_read_comment
    if fresh_text:
        # As if no two comments were alike: every comment is read from scratch.
        reading.cached_read_comment = reading.read_comment  # type: ignore[assignment]
    try:
        count = 0
        start = time.process_time()
        while time.process_time() - start < seconds:
            for rating, raw in work:
                trace(rating, CaseTimeline.decode(raw) if raw is not None else None, catalog)
            count += len(work)
        return count / (time.process_time() - start)
    finally:
        reading.cached_read_comment = cached


def describe(name: str, work: Work) -> Iterable[tuple[str, Callable[[], float] | float]]:
    negatives = sum(1 for rating, _ in work if rating.negative)
    with_case = [raw for _, raw in work if raw is not None]
    yield f"{name}: ratings", float(len(work))
    yield f"{name}: share negative", negatives / len(work)
    yield f"{name}: share with a timeline", len(with_case) / len(work)
    yield f"{name}: mean timeline bytes", sum(map(len, with_case)) / max(1, len(with_case))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seconds = float(args[0]) if args else 3.0
    count = int(args[1]) if len(args) > 1 else 20_000
    trace(*next((r, None) for r, _ in eval_set()), default_catalog())  # build the phrase table first
    stream = simulated_stream(count)
    labelled = eval_set()
    for name, value in describe("simulated stream", stream):
        print(f"{name}: {value:,.2f}")
    print(f"simulated stream: ratings/s, every comment read afresh: {rate(stream, seconds, True):,.0f}")
    print(f"simulated stream: ratings/s, repeated comments cached: {rate(stream, seconds, False):,.0f}")
    for name, value in describe("eval set", labelled):
        print(f"{name}: {value:,.2f}")
    print(f"eval set (complaints only): ratings/s, read afresh: {rate(labelled, seconds, True):,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
