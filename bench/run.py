"""`make bench`: the pipeline against its limits and a hand-written peer, in one run, one table.

    .venv/bin/python bench/run.py            full sizes (25-40 minutes on 2 cores)
    .venv/bin/python bench/run.py --smoke    tiny sizes, one repetition, no warm-up (~1.5 min)

It starts its own Kafka broker (infra/kafka/kafka.sh, on --kafka-port, state in a temp dir),
pre-loads one backlog of simulated traffic, and then takes every figure in the same run,
round-robin per repetition so that noise from other processes falls on all of them alike:

- raw consumer   aiokafka draining the backlog's topics, no processing            (messages/s)
- trivial agent  a Faust app with the worker's settings and topic, one agent taking batches (messages/s)
- raw insert     clickhouse-connect inserting the backlog's ratings and case-event rows (rows/s)
- peer           kafka-python + pydantic + batched inserts, commit after insert   (messages/s)
- core           Ingestor.process in one process, no Kafka, no ClickHouse        (events/s)
- pipeline       the real `hcp worker` draining the backlog until the committed lag is 0 (events/s)
- 1 / 2 workers  the same with a ClickHouse server URL (the test-only HTTP front over chDB,
                 tests/integration/clickhouse_http.py): one worker, then two in one group, each
                 on fresh topics, the backlog published once the group has settled       (events/s)
- latency        publish → attribution row queryable (through the worker's /sql), at a steady rate
- memory         peak RSS of a real `hcp worker` holding N live case timelines (recovered from the
                 changelog), against the same worker with an empty table

Every ClickHouse is a fresh embedded (chDB) directory in the temp dir; each measurement that
opens one runs in its own process (the 1 / 2-worker rows: the HTTP front's process owns it).
Nothing outside the temp dir is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402
from bench.pipeline import Stalled, Worker, measure_latency, row_counts  # noqa: E402
from haochaping.settings import Settings  # noqa: E402
from tests.integration.clickhouse_endpoint import ClickHouseEndpoint  # noqa: E402

KAFKA = ROOT / "infra" / "kafka" / "kafka.sh"

RAW = "raw consumer (aiokafka)"
TRIVIAL = "trivial Faust agent"
PEER = "hand-written peer"
PIPELINE = "pipeline (hcp worker)"
ONE_HTTP = "1 worker, ClickHouse over HTTP"
TWO_HTTP = "2 workers, ClickHouse over HTTP"


@dataclass(frozen=True)
class Sizes:
    events: int  # backlog
    repetitions: int
    warmup: bool
    latency_rates: tuple[float, ...]  # steady publish rates, events/s
    latency_segments: int
    latency_segment_seconds: float
    latency_backlog: int  # events the worker drains before the steady phase (state, realistic rating share)
    memory_cases: int


FULL = Sizes(200_000, 3, True, (2_000.0, 500.0), 3, 20.0, 50_000, 1_000_000)
SMOKE = Sizes(3_000, 1, False, (300.0,), 1, 4.0, 2_000, 10_000)


@dataclass
class Samples:
    unit: str
    values: list[float] = field(default_factory=list)
    extra: list[dict[str, object]] = field(default_factory=list)


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair() -> int:
    """A port p with p+1 also free: the broker's client and controller ports."""
    for _ in range(50):
        port = free_port()
        if port < 65535:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no two consecutive free ports for the broker")


class Broker:
    def __init__(self, port: int, state: Path) -> None:
        # No SASL listener (port + 2): only the client and controller ports were checked free.
        self.env = {
            **os.environ,
            "HCP_KAFKA_PORT": str(port),
            "HCP_KAFKA_STATE": str(state),
            "HCP_KAFKA_SASL_PORT": "0",
        }
        self.bootstrap = f"127.0.0.1:{port}"

    def start(self) -> None:
        subprocess.run([str(KAFKA), "start"], env=self.env, check=True)

    def stop(self) -> None:
        subprocess.run([str(KAFKA), "stop"], env=self.env, check=False)


def child(module: str, *args: str, timeout: float = 1800, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run `python -m module args` from the repository; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def distinct_free_ports(count: int) -> list[int]:
    """`count` different free ports (free_port alone may return the same one twice)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


# Worker log lines that mark a pause in the drain (streams/ingest.py, Faust's recovery).
RECOVERY_LOG_LINES = {
    "rebalances": "] generation id ",
    "gap seeks": "seeking back to it",
    "quiet-partition seeks": "but nothing came after",
    "commit-stall seeks": "Faust's commits stopped at",
}


def recovery_counts(workers: list[Worker]) -> dict[str, int]:
    """How often each of RECOVERY_LOG_LINES appears in the workers' logs so far."""
    texts = [worker.log_path.read_text(errors="replace") for worker in workers]
    return {what: sum(text.count(line) for text in texts) for what, line in RECOVERY_LOG_LINES.items()}


def recovered(worker: Worker) -> bool:
    """Whether Faust finished its last rebalance in this worker (its log says so after the last generation)."""
    text = worker.log_path.read_text(errors="replace")
    last = text.rfind("] generation id ")
    return last >= 0 and "Recovery]: Worker ready" in text[last:]


def wait_split(workers: list[Worker], settings: Settings, timeout: float) -> None:
    """Until the workers' assignments of the source topics are disjoint, non-empty and cover every
    partition, and every worker has finished recovering from that rebalance (Faust seeks the
    stream partitions at its end: records published before that seek are found as gaps)."""
    every = set(range(settings.partitions))
    deadline = time.monotonic() + timeout
    while True:
        try:
            owned = [worker.assigned() for worker in workers]
        except (OSError, ValueError):
            owned = []
        if owned and all(recovered(worker) for worker in workers):
            by_topic = [{topic: set(parts) for topic, parts in each.items()} for each in owned]
            numbers = [mine.get(settings.topics["ratings"], set()) for mine in by_topic]
            if (
                all(numbers)
                and set().union(*numbers) == every
                and sum(map(len, numbers)) == len(every)
                # co-partitioned: each worker owns the same numbers of every source topic
                and all(
                    mine.get(topic, set()) == own
                    for mine, own in zip(by_topic, numbers, strict=True)
                    for topic in settings.source_topics
                )
            ):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not split the partitions in {timeout:.0f} s: {owned}")
        time.sleep(0.25)


class Ownership:
    """Polls each worker's /hcp/health in a thread: when did every worker own source partitions at once?"""

    def __init__(self, workers: list[Worker], topic: str, interval: float = 0.25) -> None:
        self.workers = workers
        self.topic = topic
        self.interval = interval
        self.samples: list[tuple[float, bool]] = []  # (perf_counter, every worker owned a partition)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.is_set():
            owning = []
            for worker in self.workers:
                try:
                    owning.append(bool(worker.assigned().get(self.topic)))
                except (OSError, ValueError):
                    owning.append(False)
            self.samples.append((time.perf_counter(), all(owning)))
            self._stop.wait(self.interval)

    def all_owning(self, start: float, end: float) -> float:
        """Seconds within [start, end] for which the samples say every worker owned partitions."""
        total = 0.0
        for (at, yes), (after, _) in zip(self.samples, [*self.samples[1:], (end, False)], strict=True):
            if yes:
                total += max(0.0, min(after, end) - max(at, start))
        return total


class Bench:
    def __init__(self, sizes: Sizes, bootstrap: str, work: Path) -> None:
        self.sizes = sizes
        self.bootstrap = bootstrap
        self.work = work
        self.run_id = uuid.uuid4().hex[:6]
        self.counter = 0
        self.backlog = self.settings("backlog")
        self.samples: dict[str, Samples] = {
            RAW: Samples("msg/s"),
            TRIVIAL: Samples("msg/s"),
            "raw insert (clickhouse-connect)": Samples("rows/s"),
            PEER: Samples("msg/s"),
            "pipeline core, in-process": Samples("events/s"),
            PIPELINE: Samples("events/s"),
            ONE_HTTP: Samples("events/s"),
            TWO_HTTP: Samples("events/s"),
        }

    def settings(self, name: str) -> Settings:
        self.counter += 1
        unique = f"{self.run_id}-{name}-{self.counter}"
        return Settings(
            kafka_bootstrap=self.bootstrap,
            data_dir=self.work / unique,
            topic_prefix=f"bench-{self.run_id}-{name}.",
            consumer_group=f"bench-{unique}",
            web_port=free_port(),
            pseudonym_key=b"bench-pseudonym-key",
        )

    def fresh_dir(self, name: str) -> Path:
        self.counter += 1
        path = self.work / f"{name}-{self.counter}"
        path.mkdir(parents=True)
        return path

    # --- the measurements -------------------------------------------------------------------

    def raw_consumer(self) -> tuple[float, dict[str, object]]:
        topics = self.backlog.topics
        result = child("bench.limits", "consume", self.bootstrap, topics["ratings"], topics["cases"])
        assert result["messages"] == self.sizes.events, result
        return float(result["per_second"]), result  # type: ignore[arg-type]

    def trivial_agent(self) -> tuple[float, dict[str, object]]:
        """A Faust app built by the worker's create_app from the pipeline row's settings, one acking agent."""
        settings = self.backlog.with_changes(
            consumer_group=f"bench-{self.run_id}-trivial-{self.counter}",
            data_dir=self.fresh_dir("trivial"),
            web_port=free_port(),
        )
        result = child("bench.limits", "faust", str(self.sizes.events), env=settings.to_env(), timeout=900)
        assert result["messages"] == self.sizes.events, result
        return float(result["per_second"]), result  # type: ignore[arg-type]

    def raw_insert(self) -> tuple[float, dict[str, object]]:
        result = child("bench.limits", "insert", str(self.fresh_dir("insert") / "ch"), str(self.sizes.events))
        return float(result["per_second"]), result  # type: ignore[arg-type]

    def peer(self) -> tuple[float, dict[str, object]]:
        topics = self.backlog.topics
        directory = self.fresh_dir("peer") / "ch"
        group = f"bench-peer-{self.run_id}-{self.counter}"
        result = child(
            "bench.peer",
            self.bootstrap,
            topics["ratings"],
            topics["cases"],
            str(directory),
            group,
            str(self.sizes.events),
        )
        assert result["stored"] == self.sizes.events, result
        return float(result["per_second"]), result  # type: ignore[arg-type]

    def core(self) -> tuple[float, dict[str, object]]:
        result = child("bench.core", "--events", str(self.sizes.events))
        return float(result["per_second"]), result  # type: ignore[arg-type]

    def pipeline(self) -> tuple[float, dict[str, object]]:
        settings = self.backlog.with_changes(
            consumer_group=f"bench-{self.run_id}-pipeline-{self.counter}",
            data_dir=self.fresh_dir("pipeline"),
            web_port=free_port(),
        )
        worker = Worker(settings, settings.data_dir / "worker.log")
        worker.start()
        try:
            ready = worker.wait_ready()
            drained = worker.wait_drained(timeout=3600)
            rss = worker.peak_rss_mb()
        except Stalled as error:
            kept = self.work.parent / f"hcp-bench-stalled-worker-{self.run_id}-{self.counter}.log"
            shutil.copy(worker.log_path, kept)
            say(f"pipeline STALLED: {error}; worker log kept in {kept}")
            return float("nan"), {"stalled": True, "lag": error.lag, "log": str(kept)}
        finally:
            worker.stop()
        counts = row_counts(settings.data_dir / "clickhouse")
        expected = self.expected
        if counts["ratings"] != expected["rating"] or counts["case_events"] != expected["case"]:
            raise RuntimeError(f"pipeline stored {counts}, expected {expected}:\n{worker.log_tail()}")
        seconds = drained - ready
        rows = sum(counts[table] for table in counts if table != "rated_attributions")
        detail: dict[str, object] = {
            "seconds_from_ready": seconds,
            "seconds_from_start": drained - worker.started_at,
            "rows": counts,
            "rows_per_second": rows / seconds,
            "worker_peak_rss_mb": rss,
        }
        return self.sizes.events / seconds, detail

    def workers_over_http(self, count: int) -> tuple[float, dict[str, object]]:
        """`count` workers in one consumer group writing to one ClickHouse server URL.

        In embedded mode one chDB directory belongs to one process, so the workers share the
        tests' HTTP front over real chDB (tests/integration/clickhouse_http.py), a fresh one per
        measurement. The schema is applied and the topics are created before the workers start
        (two workers migrating one fresh database at once would race). The workers start on
        fresh, empty topics; once every one of them owns source partitions (for two: a split
        covering every partition) the bench publishes the backlog's events to those topics, and
        the clock runs from the first publish to the group's committed lag 0. So the figure is
        the drain of workers already in a settled group, without start-up, join or rebalance,
        for one and for two workers alike (two workers joining while the backlog is already
        there can stall: docs/benchmarks.md, Scale-out).
        """
        base = self.fresh_dir(f"http{count}")
        endpoint = ClickHouseEndpoint(base / "clickhouse", free_port(), base / "clickhouse-http.log")
        endpoint.start()
        workers: list[Worker] = []
        try:
            # Fresh topics for every measurement: the backlog is published to them below.
            name = f"http{count}-{self.counter}"
            shared = self.settings(name).with_changes(clickhouse_url=endpoint.url, data_dir=base)
            from producers.topics import ensure_topics
            from sinks.clickhouse import connect
            from sinks.schema import apply_migrations

            client = connect(shared.clickhouse, owner="bench schema")
            try:
                apply_migrations(client)
            finally:
                client.close()
            ensure_topics(shared)
            ports = distinct_free_ports(count)
            for number in range(count):
                own = shared.with_changes(data_dir=base / f"worker-{number}", web_port=ports[number])
                own.data_dir.mkdir()
                workers.append(Worker(own, base / f"worker-{number}.log"))
            for worker in workers:
                worker.start()
            ownership = Ownership(workers, shared.topics["ratings"])
            try:
                for worker in workers:
                    worker.wait_ready()
                wait_split(workers, shared, timeout=180)
                ownership.start()
                before = recovery_counts(workers)
                started = time.perf_counter()
                publish_seconds = workload.preload(shared, self.records)
                drained = workers[0].wait_drained(timeout=3600, peers=tuple(workers[1:]))
                after = recovery_counts(workers)  # before stopping: a worker leaving is a rebalance
                ownership.finish()
                assigned = [worker.assigned() for worker in workers]
                rss = [worker.peak_rss_mb() for worker in workers]
            except Stalled as error:
                kept = self.keep_logs(base, f"stalled-http{count}")
                say(f"{count} worker(s) over HTTP STALLED: {error}; logs kept in {kept}")
                return float("nan"), {"stalled": True, "lag": error.lag, "log": str(kept)}
            except Exception:
                say(f"{count} worker(s) over HTTP failed; logs kept in {self.keep_logs(base, f'failed-http{count}')}")
                raise
            finally:
                ownership.finish()
                for worker in workers:
                    worker.stop()
            counts = row_counts(shared.clickhouse)
        finally:
            endpoint.stop()
        expected = self.expected
        if counts["ratings"] != expected["rating"] or counts["case_events"] != expected["case"]:
            tails = "\n".join(worker.log_tail() for worker in workers)
            raise RuntimeError(f"{count} worker(s) over HTTP stored {counts}, expected {expected}:\n{tails}")
        ratings_topic = shared.topics["ratings"]
        owned = [sorted(parts.get(ratings_topic, [])) for parts in assigned]
        seconds = drained - started
        all_owning = ownership.all_owning(started, drained)
        if all_owning < 0.9 * seconds:
            say(f"{count} worker(s) over HTTP: a worker owned no partition for part of the drain ({owned} at the end)")
        # The worker's own recovery paths (a rebalance, records missing before a partition's
        # first offset, a partition gone quiet) during the drain: each is a pause in it.
        recoveries = {what: after[what] - before[what] for what in after if after[what] != before[what]}
        detail: dict[str, object] = {
            "seconds_from_first_publish": seconds,
            "publish_seconds": publish_seconds,
            # How long every worker owned source partitions at once (polled every 0.25 s).
            "seconds_all_owning": all_owning,
            "ratings_partitions_per_worker": owned,
            "recoveries": recoveries,
            "rows": counts,
            "worker_peak_rss_mb": rss,
        }
        return self.sizes.events / seconds, detail

    def keep_logs(self, base: Path, what: str) -> Path:
        """Copy the logs under `base` (not ClickHouse or Faust state) next to the temp dir."""
        kept = self.work.parent / f"hcp-bench-{what}-{self.run_id}-{self.counter}"
        shutil.copytree(base, kept, ignore=shutil.ignore_patterns("clickhouse", "faust"), dirs_exist_ok=True)
        return kept

    def one_worker_http(self) -> tuple[float, dict[str, object]]:
        return self.workers_over_http(1)

    def two_workers_http(self) -> tuple[float, dict[str, object]]:
        return self.workers_over_http(2)

    def latency(self, rate: float) -> dict[str, object]:
        sizes = self.sizes
        settings = self.settings(f"latency{rate:.0f}")
        records = workload.stream(seed=1)
        warm = [next(records) for _ in range(sizes.latency_backlog)]
        workload.preload(settings, warm)
        worker = Worker(settings, settings.data_dir / "worker.log")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        worker.start()
        try:
            worker.wait_ready()
            try:
                worker.wait_drained(timeout=600)
            except Stalled as error:
                say(f"latency: the worker STALLED on its warm-up backlog ({error})")
                return {
                    "stalled": True,
                    "publish_rate": rate,
                    "latencies": [],
                    "negatives": 0,
                    "missing": 0,
                    "published": 0,
                    "worker_peak_rss_mb": worker.peak_rss_mb(),
                }
            seconds = sizes.latency_segments * sizes.latency_segment_seconds
            result = measure_latency(worker, records, rate, seconds)  # type: ignore[arg-type]
            result["worker_peak_rss_mb"] = worker.peak_rss_mb()
        finally:
            worker.stop()
        return result

    def memory(self) -> dict[str, object]:
        return child("bench.memory", "--cases", str(self.sizes.memory_cases), "--bootstrap", self.bootstrap)

    # --- the run ---------------------------------------------------------------------------

    def prepare(self) -> None:
        say(f"simulating {self.sizes.events:,} events (cases_per_hour={workload.CASES_PER_HOUR})")
        records = workload.simulated(self.sizes.events)
        self.records = records  # published again for the 1 / 2-worker rows
        ratings = sum(r.kind == "rating" for r in records)
        self.expected = {"rating": ratings, "case": len(records) - ratings}
        self.negatives = sum(r.negative for r in records)
        self.bytes = sum(len(r.value) for r in records)
        seconds = workload.preload(self.backlog, records)
        say(f"pre-loaded {len(records):,} events ({self.expected['rating']:,} ratings) in {seconds:.1f} s")

    def run(self) -> dict[str, object]:
        self.prepare()
        steps: list[tuple[str, Callable[[], tuple[float, dict[str, object]]]]] = [
            (RAW, self.raw_consumer),
            (TRIVIAL, self.trivial_agent),
            ("raw insert (clickhouse-connect)", self.raw_insert),
            (PEER, self.peer),
            ("pipeline core, in-process", self.core),
            (PIPELINE, self.pipeline),
            (ONE_HTTP, self.one_worker_http),
            (TWO_HTTP, self.two_workers_http),
        ]
        rounds = ([False] if self.sizes.warmup else []) + [True] * self.sizes.repetitions
        for number, recorded in enumerate(rounds, start=1):
            label = f"repetition {number - self.sizes.warmup}" if recorded else "warm-up"
            for name, step in steps:
                started = time.perf_counter()
                value, detail = step()
                say(f"{label}: {name}: {value:,.0f} {self.samples[name].unit} ({time.perf_counter() - started:.1f} s)")
                if recorded:
                    self.samples[name].values.append(value)
                    self.samples[name].extra.append(detail)
        latency = []
        for rate in self.sizes.latency_rates:
            say(
                f"latency: {rate:,.0f} events/s for "
                f"{self.sizes.latency_segments} × {self.sizes.latency_segment_seconds:.0f} s"
            )
            latency.append(self.latency(rate))
        say(f"memory: {self.sizes.memory_cases:,} case timelines")
        memory = self.memory()
        return {"latency": latency, "memory": memory}


# --- the table -------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    return f"{min(values):,.0f}–{max(values):,.0f}"


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def render(bench: Bench, other: dict[str, object], sizes: Sizes, elapsed: float) -> str:
    lines = []
    add = lines.append
    reps = sizes.repetitions
    add(f"haochaping benchmark — {machine()}")
    add(f"code: {source_state()}")
    add(
        f"backlog: {sizes.events:,} simulated events ({bench.expected['rating']:,} ratings, "
        f"{bench.negatives:,} negative; {bench.expected['case']:,} case events; "
        f"{bench.bytes / sizes.events:.0f} B/event), 4 partitions per topic; "
        f"{'1 warm-up + ' if sizes.warmup else 'no warm-up, '}{reps} repetition(s), round-robin"
    )
    add("")
    header = f"{'measurement':<36} {'unit':<9} {'median':>10} {'min–max':>19} {'n':>3}"
    add(header)
    add("-" * len(header))
    trivial_extra = bench.samples[TRIVIAL].extra
    pipeline_extra = [x for x in bench.samples[PIPELINE].extra if not x.get("stalled")]
    two_extra = [x for x in bench.samples[TWO_HTTP].extra if not x.get("stalled")]
    rows_rate = [float(x["rows_per_second"]) for x in pipeline_extra]  # type: ignore[arg-type]
    # Rows below their measurement: (label, unit, values).
    below: dict[str, list[tuple[str, str, list[float]]]] = {
        TRIVIAL: [
            (
                "  trivial agent, clock from app up",
                "msg/s",
                [float(x["messages"]) / float(x["seconds_from_app_start"]) for x in trivial_extra],  # type: ignore[arg-type]
            )
        ],
        PIPELINE: [
            ("  pipeline, all tables", "rows/s", rows_rate),
            (
                "  pipeline incl. worker start-up",
                "events/s",
                [sizes.events / float(x["seconds_from_start"]) for x in pipeline_extra],  # type: ignore[arg-type]
            ),
        ],
    }
    medians: dict[str, float] = {}
    stalled = 0
    for name, samples in bench.samples.items():
        values = [value for value in samples.values if value == value]  # NaN: a stalled repetition
        stalled += len(samples.values) - len(values)
        median = statistics.median(values) if values else float("nan")
        medians[name] = median
        count = f"{len(values)}" if len(values) == len(samples.values) else f"{len(values)}/{len(samples.values)}"
        add(f"{name:<36} {samples.unit:<9} {median:>10,.0f} {spread(values):>19} {count:>3}")
        for label, unit, extra in below.get(name, []):
            add(f"{label:<36} {unit:<9} {med(extra):>10,.0f} {spread(extra):>19} {len(extra):>3}")

    latencies = other["latency"]
    assert isinstance(latencies, list)
    segment = sizes.latency_segment_seconds
    for latency in latencies:
        points: list[tuple[float, float]] = latency["latencies"]
        p50s, p99s = [], []
        for index in range(sizes.latency_segments):
            part = [lat * 1000 for at, lat in points if index * segment <= at < (index + 1) * segment]
            if part:
                p50s.append(percentile(part, 0.5))
                p99s.append(percentile(part, 0.99))
        for name, values in ((f"latency p50 @ {latency['publish_rate']:,.0f} ev/s", p50s), ("  p99", p99s)):
            median = statistics.median(values) if values else float("nan")
            add(f"{name:<36} {'ms':<9} {median:>10,.0f} {spread(values):>19} {len(values):>3}")
    memory = other["memory"]
    assert isinstance(memory, dict)
    label = f"worker peak RSS, {int(memory['cases']):,} timelines"
    add(f"{label:<36} {'MiB RSS':<9} {float(memory['peak_rss_mb']):>10,.0f} {'-':>19} {1:>3}")
    worker_rss = [float(x["worker_peak_rss_mb"]) for x in pipeline_extra]  # type: ignore[arg-type]
    add(
        f"{'  worker peak RSS after backlog':<36} {'MiB':<9} {med(worker_rss):>10,.0f} "
        f"{spread(worker_rss):>19} {len(worker_rss):>3}"
    )
    add("")
    pipe, trivial, peer, raw = medians[PIPELINE], medians[TRIVIAL], medians[PEER], medians[RAW]
    insert = medians["raw insert (clickhouse-connect)"]
    add("ratios (medians):")
    for label, ratio in (
        ("pipeline ÷ trivial Faust agent", pipe / trivial),
        ("pipeline ÷ hand-written peer", pipe / peer),
        ("trivial Faust agent ÷ hand-written peer", trivial / peer),
        ("pipeline ÷ raw consumer", pipe / raw),
        ("trivial Faust agent ÷ raw consumer", trivial / raw),
        ("hand-written peer ÷ raw consumer", peer / raw),
        ("pipeline ÷ in-process core", pipe / medians["pipeline core, in-process"]),
        ("pipeline rows/s ÷ raw insert", med(rows_rate) / insert),
        ("2 workers ÷ 1 worker (ClickHouse over HTTP)", medians[TWO_HTTP] / medians[ONE_HTTP]),
    ):
        add(f"  {label:<44} {ratio:.3f}")
    add("")
    if two_extra:
        owned = "; ".join(
            " + ".join(",".join(map(str, parts)) or "none" for parts in x["ratings_partitions_per_worker"])  # type: ignore[attr-defined]
            for x in two_extra
        )
        split = "; ".join(
            f"{float(x['seconds_all_owning']):.1f} of {float(x['seconds_from_first_publish']):.1f} s"  # type: ignore[arg-type]
            for x in two_extra
        )
        publish = "; ".join(f"{float(x['publish_seconds']):.1f} s" for x in two_extra)  # type: ignore[arg-type]
        add(
            "1 / 2 workers over HTTP: the test-only HTTP front over chDB (tests/integration/clickhouse_http.py, one "
            "statement at a time), a fresh one per run; the workers start on empty topics, the backlog is published "
            f"once they own their partitions (publishing took {publish}), clock first publish → lag 0; both of the "
            f"2 workers owned partitions for {split}; ratings partitions per worker at the end: {owned}"
        )
        for row, extra in ((ONE_HTTP, bench.samples[ONE_HTTP].extra), (TWO_HTTP, two_extra)):
            seen = [x.get("recoveries") for x in extra if x.get("recoveries")]
            if seen:
                add(f"  {row}, pauses during the drain (worker logs): " + "; ".join(json.dumps(x) for x in seen))
    for latency in latencies:
        add(
            f"latency @ {latency['publish_rate']:,.0f} ev/s: {latency['negatives']} negative ratings in "
            f"{sizes.latency_segments} segment(s) of {segment:.0f} s (p50/p99 per segment, spread across "
            f"segments), {latency['missing']} not seen; /sql polled every 0.1 s; {latency['published']:,} events "
            f"published after {sizes.latency_backlog:,} pre-loaded; worker peak RSS "
            f"{float(latency['worker_peak_rss_mb']):,.0f} MiB"
        )
    add(
        f"memory: {float(memory['bytes_per_case']):.0f} B/case encoded (key + value, "
        f"{float(memory['events_per_case']):.1f} events/case), payload {float(memory['payload_mb']):,.0f} MiB, "
        f"process baseline {float(memory['baseline_rss_mb']):,.0f} MiB, table adds "
        f"{float(memory['table_rss_mb']):,.0f} MiB — peak RSS of a real worker with the table recovered, idle"
    )
    if stalled:
        add(
            f"STALLED: {stalled} worker repetition(s) stopped making progress (committed lag unchanged for "
            "120 s) and are left out of the medians; see the kept worker log(s)"
        )
    counts = pipeline_extra[-1]["rows"] if pipeline_extra else {}
    add(f"pipeline rows per run: {json.dumps(counts)}")
    add(f"total bench time {elapsed / 60:.1f} min; 2-core machines shared with other work give noisy figures")
    return "\n".join(lines)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{total_kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    kafka = _kafka_version()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory}, Python {platform.python_version()}, "
        f"Kafka {kafka}, {platform.system()} {platform.release()}"
    )


def source_state() -> str:
    """The commit measured, and whether tracked files outside bench/ differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    changed = [line[3:] for line in changed if line.strip()]
    return f"commit {commit}" + (f" with local changes to {', '.join(changed)}" if changed else " (clean)")


def _kafka_version() -> str:
    import re

    text = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    found = re.search(r"<kafka.version>(.*?)</kafka.version>", text)
    return found.group(1) if found else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition, no warm-up (~1.5 min)")
    parser.add_argument(
        "--kafka-port",
        type=int,
        default=int(os.environ.get("HCP_BENCH_KAFKA_PORT", "0")),
        help="the bench broker's port (default: a free one; the controller uses port+1)",
    )
    parser.add_argument("--events", type=int, help="backlog size (overrides the mode's)")
    parser.add_argument("--repetitions", type=int, help="recorded repetitions (overrides the mode's)")
    parser.add_argument("--memory-cases", type=int, help="case timelines for the memory figure")
    parser.add_argument("--json", help="also write every sample here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs) for inspection")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    overrides = {
        "events": args.events,
        "repetitions": args.repetitions,
        "memory_cases": args.memory_cases,
    }
    sizes = Sizes(**{**sizes.__dict__, **{k: v for k, v in overrides.items() if v is not None}})

    work = Path(tempfile.mkdtemp(prefix="hcp-bench-"))
    # Children's temp files (e.g. the HTTP front's insert spool) go with the temp dir too.
    (work / "tmp").mkdir()
    os.environ["TMPDIR"] = str(work / "tmp")
    broker = Broker(args.kafka_port or free_port_pair(), work / "kafka")
    started = time.perf_counter()
    try:
        broker.start()
        bench = Bench(sizes, broker.bootstrap, work)
        other = bench.run()
        table = render(bench, other, sizes, time.perf_counter() - started)
    finally:
        broker.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {name: {"unit": s.unit, "values": s.values, "detail": s.extra} for name, s in bench.samples.items()}
                | {"other": other},
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
