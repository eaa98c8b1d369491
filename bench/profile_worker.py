"""Profile the real `hcp worker` draining a backlog: py-spy on every thread, shares by area.

    python -m bench.profile_worker --bootstrap 127.0.0.1:19092 --events 100000 [--out profile.txt]

Publishes the benchmark's events to fresh topics, starts the worker (bench/pipeline.py), records
it with `py-spy record --threads --format raw` from "ready" to lag 0, and prints where the
samples of the main thread went, grouped by the frames that name an area (Faust's consumer,
the core, the writer, …). Needs py-spy (`pip install py-spy`) and a running broker.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.pipeline import Worker
from bench.workload import preload, simulated
from haochaping.settings import Settings

# First matching frame (innermost first) names the area of a sample.
AREAS = (
    ("gc", ("(garbage collection)",)),
    ("ClickHouse write (thread)", ("sinks/writer.py", "clickhouse_connect", "chdb")),
    ("core: decode/validate", ("haochaping/decoding.py", "pydantic")),
    ("core: timelines", ("haochaping/timeline.py",)),
    ("core: tracing", ("haochaping/tracing/",)),
    ("core: rows and the rest", ("haochaping/",)),
    ("changelog and topic sends", ("faust/tables", "faust/topics.py", "faust/transport/producer.py")),
    ("acknowledgements", ("faust/streams.py:ack", "Stream.ack", "consumer.py:ack", "tuples.py")),
    ("Faust consumer and streams", ("faust/", "mode/")),
    ("aiokafka", ("aiokafka/",)),
    ("agent glue", ("streams/",)),
    ("event loop", ("asyncio/",)),
)


def area_of(stack: str) -> str:
    frames = list(reversed(stack.split(";")))  # innermost first
    for frame in frames:
        for area, marks in AREAS:
            if any(mark in frame for mark in marks):
                return area
    return "other"


def summarise(raw: Path) -> dict[str, dict[str, int]]:
    """Samples per thread and area from py-spy's raw (collapsed) output."""
    threads: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        thread, _, rest = stack.partition(";")
        threads[thread][area_of(rest)] += int(count)
    return {thread: dict(counter) for thread, counter in threads.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", default="profile-worker.txt", help="py-spy's raw output")
    args = parser.parse_args()
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    work = Path(tempfile.mkdtemp(prefix="hcp-profile-"))
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap=args.bootstrap,
        data_dir=work / "data",
        topic_prefix=f"prof-{run}.",
        consumer_group=f"prof-{run}",
        portal_topics=False,
        pseudonym_key=b"bench-key",
    )
    records = simulated(args.events)
    preload(settings, records)
    worker = Worker(settings, work / "worker.log")
    worker.start()
    try:
        worker.wait_ready()
        assert worker.process is not None
        recorder = subprocess.Popen(
            [spy, "record", "--threads", "--idle", "--format", "raw", "-r", "100", "-o", args.out,
             "--pid", str(worker.process.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.perf_counter()
        worker.wait_drained(timeout=3600)
        seconds = time.perf_counter() - started
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C, not on SIGTERM
        recorder.wait(timeout=120)
    finally:
        worker.stop()
    print(f"{args.events:,} events drained in {seconds:.1f} s ({args.events / seconds:,.0f} events/s) under py-spy")
    for thread, areas in sorted(summarise(Path(args.out)).items(), key=lambda item: -sum(item[1].values())):
        total = sum(areas.values())
        print(f"\n{thread}: {total} samples")
        for area, count in sorted(areas.items(), key=lambda item: -item[1]):
            print(f"  {area:<32} {100 * count / total:5.1f} %")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
