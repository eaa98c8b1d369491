"""Throughput of trace() on one core: `python -m haochaping.tracing.bench [seconds]`.

Rates are per CPU-second of this process (time.process_time), so a busy machine does not
distort them. Replays the labelled evaluation set (comments of every shape, some with case timelines) and
reports ratings per second, with and without decoding each timeline from its table bytes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from haochaping.catalog import default_catalog
from haochaping.events import RatingEvent
from haochaping.timeline import CaseTimeline
from haochaping.tracing import reading
from haochaping.tracing.engine import trace
from haochaping.tracing.evaluate import DEFAULT_PATH, load


def measure(seconds: float = 3.0, path: Path = DEFAULT_PATH) -> dict[str, float]:
    catalog = default_catalog()
    items = load(path)
    pairs = [
        (item.rating, item.timeline, item.timeline.encode() if item.timeline is not None else b"")
        for item in items
    ]
    trace(pairs[0][0], pairs[0][1], catalog)  # build the phrase table outside the timing

    def rate(work: list[tuple[RatingEvent, CaseTimeline | None, bytes]], decode: bool) -> float:
        # CPU time of this process, not wall time: on a shared machine other processes take
        # turns on the core, and ratings per CPU-second is what one core can sustain.
        count = 0
        start = time.process_time()
        while time.process_time() - start < seconds:
            for rating, timeline, raw in work:
                if decode and timeline is not None:
                    timeline = CaseTimeline.decode(raw)
                trace(rating, timeline, catalog)
            count += len(work)
        return count / (time.process_time() - start)

    with_case = [pair for pair in pairs if pair[1] is not None]
    sizes = [len(raw) for _, _, raw in with_case]
    # Headline figures read every comment afresh (as if no two comments in the stream were
    # alike); the last rate shows the effect of the engine's cache of repeated comments.
    cached = reading.cached_read_comment
    reading.cached_read_comment = reading.read_comment  # type: ignore[assignment]
    try:
        figures = {
            "ratings_per_second (eval mix)": rate(pairs, decode=False),
            "ratings_per_second (eval mix, decoding timelines from bytes)": rate(pairs, decode=True),
            "ratings_per_second (only ratings with a timeline, decoding)": rate(with_case, decode=True),
        }
    finally:
        reading.cached_read_comment = cached
    return {
        **figures,
        "ratings_per_second (eval mix, repeated comments cached)": rate(pairs, decode=True),
        "share of ratings with a timeline": len(with_case) / len(pairs),
        "mean timeline bytes": sum(sizes) / len(sizes) if sizes else 0.0,
        "mean events per timeline": sum(len(t) for _, t, _ in with_case if t is not None) / max(1, len(with_case)),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seconds = float(args[0]) if args else 3.0
    for name, value in measure(seconds).items():
        print(f"{name}: {value:,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
