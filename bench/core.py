"""The pipeline's pure core in one process, no Kafka and no ClickHouse: `Ingestor.process` on
the benchmark's events in batches of the worker's size, with a dict as the timeline table
(encoded bytes, as the Faust memory table holds them).

    python -m bench.core --events 50000 [--profile out.html]

Prints one JSON line: events/s. With --profile, pyinstrument's report goes to the file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.workload import simulated
from haochaping.catalog import default_catalog
from haochaping.ingest import Ingestor, Message

RATINGS, CASES = "bench.ratings", "bench.case-events"


def messages(count: int) -> list[Message]:
    offsets = {RATINGS: 0, CASES: 0}
    out = []
    for record in simulated(count):
        topic = RATINGS if record.kind == "rating" else CASES
        out.append(Message(topic, 0, offsets[topic], record.key, record.value))
        offsets[topic] += 1
    return out


def run(batch: list[Message], batch_max: int) -> float:
    ingestor = Ingestor({RATINGS: "rating", CASES: "case"}, b"bench-key", default_catalog())
    store: dict[bytes, bytes] = {}
    started = time.perf_counter()
    for start in range(0, len(batch), batch_max):
        ingestor.process(batch[start : start + batch_max], store)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-max", type=int, default=10_000)
    parser.add_argument("--profile", help="write a pyinstrument HTML report here (needs pyinstrument)")
    args = parser.parse_args()
    batch = messages(args.events)
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        seconds = run(batch, args.batch_max)
        profiler.stop()
        with open(args.profile, "w", encoding="utf-8") as out:
            out.write(profiler.output_html())
        print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)
    else:
        seconds = run(batch, args.batch_max)
    print(json.dumps({"events": len(batch), "seconds": seconds, "per_second": len(batch) / seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
