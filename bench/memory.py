"""Memory of a real `hcp worker` holding N live case timelines, against the same worker with none.

    python -m bench.memory                          1,000,000 cases (about 5 minutes on 2 cores)
    python -m bench.memory --cases 20000            any size (below 100,000: a 2 s settle)
    python -m bench.memory --smoke                  10,000 cases, fewer templates, 2 s settle (< 60 s)
    python -m bench.memory verify CHDB_DIR...       probe rows, once those directories' workers stopped

It prints one JSON line: cases, worker_peak_rss_mb (VmHWM), worker_rss_mb (VmRSS), recovery_seconds
(worker start -> Faust's "Restore complete!"), the same for the baseline worker (baseline_...), and
details; peak_rss_mb, baseline_rss_mb, table_rss_mb, bytes_per_case, events_per_case and payload_mb
are the keys bench/run.py's table reads (now the worker's figures).

The worker keeps one encoded CaseTimeline per live case in the Faust table "case_timelines"
(memory store: a dict of key bytes -> value bytes) and rebuilds it at start-up from the table's
changelog topic. So the bench writes N distinct timelines straight into a fresh changelog topic
(key = case id, value = CaseTimeline.encode(), partition = the one the worker itself writes,
streams.tables.partition_of) and starts the real worker (bench.pipeline.Worker: `python -m
cli.main worker`) on that consumer group: Faust reads the whole changelog back into the table
before the worker takes any record. No N real case streams need processing, and the table the
worker ends up with is byte for byte the one it would hold after having seen those cases.

Per worker: wait for Faust's "Restore complete!" (the log), check that the health endpoint
answers, let it idle `--settle` seconds, then read VmHWM (peak RSS) and VmRSS / RssAnon. The
same is done, in the same run and first, for a worker on a fresh group with an empty changelog:
the baseline, so the table's own cost is the difference. One worker runs at a time; each has
its own topic prefix, consumer group and data folder (embedded chDB) in a temp dir.

That the worker really held the N timelines is checked three ways: the changelog's end offsets
sum to N; the worker's recovery log lists those highwaters for the changelog and then says
"Done reading from changelog topics"; and after the RSS reading, `--probes` ratings are sent for
cloned cases spread over the id range and all partitions: a rating whose case timeline is in the
table yields step-observation rows, one without yields none (docs: haochaping/observations.py).
Every probe must have them in the loaded worker and none in the baseline (read from chDB after
the worker stopped, in a separate process).

Timelines are taken from the benchmark's simulated stream (a mix of finished and in-flight
cases as a backlog cut leaves them) and cloned under fresh case ids of the same length.

Unless --bootstrap names a running broker, the bench starts its own (infra/kafka/kafka.sh,
bench.run.Broker) on --kafka-port (default: a free one) with its state in the temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pipeline import Worker, peak_rss_mb  # noqa: E402
from bench.run import Broker, free_port, free_port_pair  # noqa: E402
from haochaping.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from haochaping.timeline import CaseTimeline

TABLE = "case_timelines"
RESTORING = "Restoring state from changelog topics"
DONE_READING = "Done reading from changelog topics"
RESTORED = "Restore complete!"
HIGHWATERS = "Highwater for active changelog partitions"


_T0 = time.perf_counter()


def say(text: str) -> None:
    print(f"bench.memory [{time.perf_counter() - _T0:6.1f} s]: {text}", file=sys.stderr, flush=True)


def status_mb(pid: int, field_name: str) -> float:
    """A kB field of /proc/<pid>/status (VmRSS, RssAnon, ...), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def changelog_topic(settings: Settings) -> str:
    """The case-timeline table's changelog, as Faust names it: <app id>-<table>-changelog."""
    return f"{settings.consumer_group}-{TABLE}-changelog"


# --- the timelines and the probes ------------------------------------------------------------


@dataclass
class Workload:
    samples: list[CaseTimeline]  # decoded from their encodings; each clone overwrites case_id
    probe_templates: list[tuple[int, dict[str, object]]]  # (sample index, rating payload) with step records


def build_workload(sample_events: int) -> Workload:
    from bench.workload import simulated
    from haochaping.catalog import default_catalog
    from haochaping.decoding import decode_event
    from haochaping.events import CaseEvent, RatingEvent
    from haochaping.timeline import CaseTimeline

    records = simulated(sample_events)
    templates: dict[str, CaseTimeline] = {}
    for record in records:
        if record.kind != "case":
            continue
        event = decode_event(record.value)
        assert isinstance(event, CaseEvent)
        timeline = templates.get(event.case_id)
        if timeline is None:
            timeline = templates[event.case_id] = CaseTimeline(event.case_id, event.matter_code, event.mode)
        timeline.add(event)
    ids = list(templates)
    index_of = {case_id: index for index, case_id in enumerate(ids)}
    # Working copies (through the public encoding) whose case_id each clone overwrites.
    samples = [CaseTimeline.decode(templates[case_id].encode()) for case_id in ids]
    catalog = default_catalog()
    probes: list[tuple[int, dict[str, object]]] = []
    for record in records:
        if record.kind != "rating":
            continue
        rating = decode_event(record.value, "rating")
        if not isinstance(rating, RatingEvent) or rating.case_id not in index_of:
            continue
        # The worker observes a rating's steps as of its time: only ratings that get rows with their timeline.
        if templates[rating.case_id].steps(catalog, as_of=rating.rated_at):
            probes.append((index_of[rating.case_id], json.loads(record.value)))
    return Workload(samples, probes)


def clone_ids(cases: int) -> Iterator[str]:
    return (f"C0-{index:08d}" for index in range(cases))  # the simulator's id length, 11 bytes


def probe_messages(workload: Workload, cases: int, count: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """(key, value) of `count` ratings for distinct cloned cases spread over the whole id range."""
    rng = random.Random(seed)
    period = len(workload.samples)
    usable = [(index, payload) for index, payload in workload.probe_templates if index < cases]
    chosen: dict[int, dict[str, object]] = {}
    attempts = 0
    while usable and len(chosen) < count and attempts < count * 50:
        attempts += 1
        index, payload = usable[rng.randrange(len(usable))]
        clone = index + period * rng.randrange((cases - 1 - index) // period + 1)
        chosen.setdefault(clone, payload)
    messages = []
    for number, (clone, payload) in enumerate(sorted(chosen.items())):
        case_id = f"C0-{clone:08d}"
        value = {**payload, "case_id": case_id, "rating_id": f"RM-{number:08d}"}
        messages.append((case_id.encode(), json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()))
    return messages


@dataclass
class Published:
    records: int = 0
    payload_bytes: int = 0
    events: int = 0
    seconds: float = 0.0
    end_offsets: dict[int, int] = field(default_factory=dict)


def prepare_topics(settings: Settings) -> None:
    """The worker's source topics (as the worker creates them) and the timeline changelog, compacted."""
    from kafka.errors import TopicAlreadyExistsError

    from producers.topics import admin_client, ensure_topics

    ensure_topics(settings)
    admin = admin_client(settings)
    try:
        admin.create_topics(
            {
                changelog_topic(settings): {
                    "num_partitions": settings.partitions,
                    "replication_factor": 1,
                    "configs": {"cleanup.policy": "compact"},
                }
            },
            wait_for_metadata=True,
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def publish_timelines(settings: Settings, workload: Workload, cases: int) -> Published:
    """N cloned timelines into the changelog, each on the partition the worker would write it to."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from streams.tables import partition_of

    topic = changelog_topic(settings)
    published = Published()
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="hcp-bench-memory",
        acks=1,
        enable_idempotence=False,
        linger_ms=50,
        batch_size=1024 * 1024,
        compression_type="lz4",
    )
    samples = workload.samples
    period = len(samples)
    started = time.perf_counter()
    try:
        for index, case_id in enumerate(clone_ids(cases)):
            timeline = samples[index % period]
            timeline.case_id = case_id
            value = timeline.encode()
            key = case_id.encode()
            producer.send(topic, key=key, value=value, partition=partition_of(key, settings.partitions))
            published.records += 1
            published.payload_bytes += len(key) + len(value)
            published.events += len(timeline)
        producer.flush()
    finally:
        producer.close()
    published.seconds = time.perf_counter() - started
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="hcp-bench-memory-offsets")
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(settings.partitions)])
    finally:
        consumer.close()
    published.end_offsets = {tp.partition: offset for tp, offset in ends.items()}
    return published


def publish_probes(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, client_id="hcp-bench-memory-probe", acks="all")
    try:
        for key, value in messages:
            producer.send(settings.topics["ratings"], key=key, value=value)
        producer.flush()
    finally:
        producer.close()


# --- the worker --------------------------------------------------------------------------------


class LogWatch:
    """Reads the worker's log as it grows; remembers when each awaited line first appeared."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.text = ""
        self.seen: dict[str, float] = {}

    def poll(self) -> None:
        self.text = self.worker.log_path.read_text(errors="replace")
        now = time.perf_counter()
        for marker in (RESTORING, DONE_READING, RESTORED):
            if marker not in self.seen and marker in self.text:
                self.seen[marker] = now

    def wait_for(self, marker: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if marker in self.seen:
                return self.seen[marker]
            process = self.worker.process
            assert process is not None
            if process.poll() is not None:
                raise RuntimeError(f"worker exited with {process.returncode}:\n{self.worker.log_tail(60)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {marker!r} after {timeout:.0f} s:\n{self.worker.log_tail(60)}")
            time.sleep(0.1)


_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def _log_time(text: str, marker: str) -> float | None:
    """The timestamp of the first log line with `marker` (asctime: ms resolution), as POSIX seconds."""
    for line in text.splitlines():
        if marker in line:
            found = _STAMP.search(line)
            if found:
                from datetime import datetime

                return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def recovered_highwaters(text: str, topic: str) -> dict[int, int]:
    """Per partition of `topic`, the highwater (last offset) Faust's recovery said it would read up to.

    The log table has one row per changelog partition (topic, partition, highwater; a topic's name
    only on its first row). The last such table is read: that of the recovery that completed.
    """
    start = text.rfind(HIGHWATERS)
    if start < 0:
        return {}
    found: dict[int, int] = {}
    current = ""
    for line in text[start:].splitlines()[1:]:
        if not line.startswith(("+", "|", "┌", "│", "├", "└")):
            break  # the end of the table
        cells = [cell.strip() for cell in re.split(r"[│|]", line)[1:-1]]
        if len(cells) != 3:
            continue  # a border
        name, partition, highwater = cells
        if name not in ("", "〃"):  # the table writes a repeated topic name as a ditto mark
            current = name
        if current == topic and partition.isdigit() and highwater.lstrip("-").isdigit():
            found[int(partition)] = int(highwater)
    return found


@dataclass
class Measured:
    peak_rss_mb: float
    rss_mb: float
    rss_anon_mb: float
    ready_seconds: float  # worker start -> "Restore complete!"
    changelog_read_seconds: float | None  # "Restoring state ..." -> "Done reading ..." (log timestamps)
    highwaters: dict[int, int]
    done_reading: bool
    chdb: Path  # the worker's ClickHouse directory, to read the probes' rows from once it stopped


def run_worker(settings: Settings, probes: list[tuple[bytes, bytes]], settle: float, timeout: float) -> Measured:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(settings, settings.data_dir / "worker.log")
    watch = LogWatch(worker)
    worker.start()
    try:
        restored = watch.wait_for(RESTORED, timeout)
        worker.wait_ready(timeout=120)
        ready_seconds = restored - worker.started_at
        say(f"{settings.consumer_group}: restore complete {ready_seconds:.1f} s after start; idling {settle:.0f} s")
        time.sleep(settle)
        assert worker.process is not None
        pid = worker.process.pid
        peak, rss, anon = peak_rss_mb(pid), status_mb(pid, "VmRSS"), status_mb(pid, "RssAnon")
        # Only now (the RSS is read): ratings for sampled cases, to see that their timelines are there.
        publish_probes(settings, probes)
        worker.wait_drained(timeout=300)
        say(f"{settings.consumer_group}: {len(probes)} probe ratings stored; stopping")
    finally:
        worker.stop()
    text = worker.log_path.read_text(errors="replace")
    read_from, read_to = _log_time(text, RESTORING), _log_time(text, DONE_READING)
    return Measured(
        peak_rss_mb=peak,
        rss_mb=rss,
        rss_anon_mb=anon,
        ready_seconds=ready_seconds,
        changelog_read_seconds=(read_to - read_from) if read_from is not None and read_to is not None else None,
        highwaters=recovered_highwaters(text, changelog_topic(settings)),
        done_reading=DONE_READING in text,
        chdb=settings.data_dir / "clickhouse",
    )


def probe_rows(*directories: Path) -> list[dict[str, int]]:
    """Per directory: ratings stored, and ratings with step observations (separate process; workers stopped)."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.memory", "verify", *map(str, directories)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    counts: list[dict[str, int]] = json.loads(output.splitlines()[-1])
    return counts


def _verify(directories: list[str]) -> int:
    from sinks.clickhouse import connect

    counts = []
    for directory in directories:
        client = connect(f"chdb://{directory}", owner="bench.memory verify")
        try:
            ratings = int(client.query("SELECT count() FROM ratings").result_rows[0][0])
            observed = int(client.query("SELECT uniqExact(rating_id) FROM step_observations").result_rows[0][0])
        finally:
            client.close()
        counts.append({"ratings": ratings, "observed": observed})
    print(json.dumps(counts))
    return 0


# --- the run ---------------------------------------------------------------------------------


def main() -> int:
    if sys.argv[1:2] == ["verify"]:
        return _verify(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=None, help="live case timelines (default 1,000,000)")
    parser.add_argument("--smoke", action="store_true", help="10,000 cases, fewer templates, a 2 s settle (< 60 s)")
    parser.add_argument(
        "--settle",
        type=float,
        help="seconds idle after recovery before reading RSS (default 10; 2 below 100,000 cases)",
    )
    parser.add_argument("--probes", type=int, default=200, help="ratings sent to check the table's content")
    parser.add_argument("--partitions", type=int, default=Settings().partitions)
    parser.add_argument(
        "--sample-events", type=int, help="simulated events to take timelines from (default 50,000; 20,000 --smoke)"
    )
    parser.add_argument("--bootstrap", help="use this running broker instead of starting one")
    parser.add_argument("--kafka-port", type=int, default=0, help="port for the bench's own broker (default: free)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="longest wait for a worker's recovery")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs)")
    args = parser.parse_args()
    cases = args.cases if args.cases is not None else (10_000 if args.smoke else 1_000_000)
    settle = args.settle if args.settle is not None else (2.0 if args.smoke or cases < 100_000 else 10.0)
    sample_events = args.sample_events or (20_000 if args.smoke else 50_000)
    if cases < 1:
        parser.error("--cases must be at least 1")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="hcp-bench-memory-"))
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker = Broker(args.kafka_port or free_port_pair(), work / "kafka")
        bootstrap = broker.bootstrap
    run_id = uuid.uuid4().hex[:6]

    def settings(name: str) -> Settings:
        return Settings(
            kafka_bootstrap=bootstrap,
            data_dir=work / name,
            topic_prefix=f"bench-memory-{run_id}-{name}.",
            consumer_group=f"bench-memory-{run_id}-{name}",
            partitions=args.partitions,
            web_port=free_port(),
            pseudonym_key=b"bench-pseudonym-key",
        )

    empty, loaded = settings("empty"), settings("loaded")

    def start_broker_and_topics() -> None:
        if broker is not None:
            broker.start()
        prepare_topics(empty)
        prepare_topics(loaded)
        say(f"broker up on {bootstrap}, topics created")

    background = ThreadPoolExecutor(max_workers=1)
    try:
        # The broker and the topics in the background (mostly another process's work) while the stream is simulated.
        ready: Future[None] = background.submit(start_broker_and_topics)
        workload = build_workload(sample_events)
        probes = probe_messages(workload, cases, min(args.probes, cases))
        say(f"{len(workload.samples):,} template timelines, {len(probes)} probe ratings")
        ready.result()
        published = publish_timelines(loaded, workload, cases)
        in_changelog = sum(published.end_offsets.values())
        say(
            f"published {published.records:,} timelines ({published.payload_bytes / 2**20:,.0f} MiB) "
            f"in {published.seconds:.1f} s; changelog end offsets sum to {in_changelog:,}"
        )
        if in_changelog != cases:
            raise RuntimeError(f"the changelog holds {in_changelog} records, not {cases}: {published.end_offsets}")
        say("baseline: worker with an empty case-timeline table")
        baseline = run_worker(empty, probes, settle, args.timeout)
        say(f"loaded: worker recovering {cases:,} case timelines")
        measured = run_worker(loaded, probes, settle, args.timeout)
        baseline_probes, loaded_probes = probe_rows(baseline.chdb, measured.chdb)
    finally:
        background.shutdown(wait=True)
        if broker is not None:
            broker.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # Faust's highwater is the last offset (end offset - 1) of each partition it reads back.
    recovered = sum(highwater + 1 for highwater in measured.highwaters.values())
    problems = []
    if recovered != cases or not measured.done_reading:
        problems.append(f"recovery read {recovered} records (highwaters {measured.highwaters}), not {cases}")
    if loaded_probes != {"ratings": len(probes), "observed": len(probes)}:
        problems.append(f"loaded worker: {loaded_probes} for {len(probes)} probes (want every one observed)")
    if baseline_probes != {"ratings": len(probes), "observed": 0}:
        problems.append(f"baseline worker: {baseline_probes} for {len(probes)} probes (want none observed)")
    if problems:
        raise RuntimeError("; ".join(problems))

    from streams.tables import partition_of

    table = measured.peak_rss_mb - baseline.peak_rss_mb
    result = {
        "cases": cases,
        "worker_peak_rss_mb": round(measured.peak_rss_mb, 1),
        "worker_rss_mb": round(measured.rss_mb, 1),
        "recovery_seconds": round(measured.ready_seconds, 2),
        "baseline_worker_peak_rss_mb": round(baseline.peak_rss_mb, 1),
        "baseline_worker_rss_mb": round(baseline.rss_mb, 1),
        "baseline_recovery_seconds": round(baseline.ready_seconds, 2),
        "worker_rss_anon_mb": round(measured.rss_anon_mb, 1),
        "baseline_worker_rss_anon_mb": round(baseline.rss_anon_mb, 1),
        "changelog_read_seconds": (
            round(measured.changelog_read_seconds, 2) if measured.changelog_read_seconds is not None else None
        ),
        "recovered_records": recovered,
        "probes": len(probes),
        "probe_partitions": len({partition_of(key, args.partitions) for key, _ in probes}),
        "probes_observed": loaded_probes["observed"],
        "baseline_probes_observed": baseline_probes["observed"],
        "partitions": args.partitions,
        "settle_seconds": settle,
        "publish_seconds": round(published.seconds, 2),
        "bench_seconds": round(time.perf_counter() - started, 1),
        # The figures bench/run.py's table reads (its memory row and note): now the worker's.
        "events_per_case": published.events / cases,
        "payload_mb": published.payload_bytes / 2**20,
        "bytes_per_case": published.payload_bytes / cases,
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "baseline_rss_mb": round(baseline.peak_rss_mb, 1),
        "table_rss_mb": round(table, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
