"""The real pipeline under measurement: `hcp worker` as a child process, exactly as operators run it.

    python -m bench.pipeline verify CHDB_DIR     rows per table, once the worker has stopped
    python -m bench.pipeline verify http://…     the same through a ClickHouse server URL

In embedded mode only the worker may open its chDB directory while it runs, so the bench
never opens it then: "stored" is read from the consumer group's committed offsets (the worker
commits only after ClickHouse holds the rows), queries during a run go through the worker's own
/sql endpoint, and row counts are checked from a separate process after the worker has stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from haochaping.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stalled(RuntimeError):
    """The worker runs but its committed lag has not moved for a long time."""

    def __init__(self, lag: int, seconds: float) -> None:
        super().__init__(f"lag stuck at {lag} for {seconds:.0f} s")
        self.lag = lag


class Worker:
    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def _alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Until the worker's web server answers; returns perf_counter() then."""
        url = f"http://127.0.0.1:{self.settings.web_port}/hcp/health"
        deadline = time.monotonic() + timeout
        while True:
            self._alive()
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def wait_drained(
        self, timeout: float, poll: float = 0.2, stall_seconds: float = 120.0, peers: tuple[Worker, ...] = ()
    ) -> float:
        """Until the group's lag is zero (everything stored); returns perf_counter() then.

        Raises Stalled when the lag has not moved for `stall_seconds` while the worker runs.
        `peers`: other workers of the same consumer group, which must keep running too.
        """
        from kafka.errors import KafkaError

        from producers.lag import consumer_lag

        deadline = time.monotonic() + timeout
        last_lag, last_change = -1, time.monotonic()
        while True:
            for worker in (self, *peers):
                worker._alive()
            try:
                lag = consumer_lag(self.settings)
            except KafkaError as error:  # e.g. the group coordinator not elected yet on a fresh broker
                print(f"bench: lag not known yet ({error})", file=sys.stderr)
                lag = last_lag
            if lag == 0:
                return time.perf_counter()
            now = time.monotonic()
            if lag != last_lag:
                last_lag, last_change = lag, now
            elif now - last_change > stall_seconds:
                raise Stalled(lag, stall_seconds)
            if now > deadline:
                raise RuntimeError(f"worker still behind after {timeout} s:\n{self.log_tail()}")
            time.sleep(poll)

    def sql(self, statement: str, parameters: dict[str, object] | None = None) -> list[list[object]]:
        body = json.dumps({"sql": statement, "parameters": parameters or {}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.settings.web_port}/sql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            rows: list[list[object]] = json.loads(response.read())["rows"]
            return rows

    def assigned(self) -> dict[str, list[int]]:
        """Partitions this worker consumes now, per topic (from its /hcp/health)."""
        url = f"http://127.0.0.1:{self.settings.web_port}/hcp/health"
        with urllib.request.urlopen(url, timeout=10) as response:
            assigned: dict[str, list[int]] = json.loads(response.read()).get("assigned", {})
            return assigned

    def peak_rss_mb(self) -> float:
        assert self.process is not None
        return peak_rss_mb(self.process.pid)

    def stop(self, timeout: float = 60.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def row_counts(directory: Path | str) -> dict[str, int]:
    """Rows per table, from a separate process (in embedded mode the worker must have stopped).

    `directory`: a chDB directory, or a ClickHouse server URL (http://…).
    """
    output = subprocess.run(
        [sys.executable, "-m", "bench.pipeline", "verify", str(directory)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    counts: dict[str, int] = json.loads(output.splitlines()[-1])
    return counts


@dataclass
class Latency:
    """Publish → attribution row queryable, for negative ratings published at a steady rate."""

    sent: list[tuple[float, object, bool]] = field(default_factory=list)  # (send time, future, negative)
    # (time the poll was answered, max attribution offset per partition)
    seen: list[tuple[float, dict[int, int]]] = field(default_factory=list)


def measure_latency(
    worker: Worker, records: list, rate: float, seconds: float, poll_interval: float = 0.1, settle: float = 60.0
) -> dict[str, object]:
    """Publish `records` at `rate`/s for `seconds` while polling the worker's /sql for attribution rows."""
    from kafka import KafkaProducer

    from bench.workload import topic_of

    settings = worker.settings
    ratings_topic = settings.topics["ratings"]
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="hcp-bench-latency",
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        batch_size=256 * 1024,
        compression_type="lz4",
    )
    state = Latency()
    stop = threading.Event()
    query = (
        "SELECT src_partition, max(src_offset) FROM attributions WHERE src_topic = {t:String} GROUP BY src_partition"
    )

    def poll() -> None:
        while not stop.is_set():
            try:
                rows = worker.sql(query, {"t": ratings_topic})
                state.seen.append((time.perf_counter(), {int(p): int(o) for p, o in rows}))
            except Exception as error:  # a slow answer is part of the measurement; keep polling
                print(f"bench: latency poll failed: {error}", file=sys.stderr)
            stop.wait(poll_interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.perf_counter()
    published = 0
    try:
        for record in records:
            now = time.perf_counter()
            if now - started >= seconds:
                break
            ahead = published / rate - (now - started)
            if ahead > 0:
                time.sleep(ahead)
            future = producer.send(topic_of(settings, record), key=record.key, value=record.value)
            if record.negative:
                state.sent.append((time.perf_counter(), future, True))
            published += 1
        producer.flush()
        publish_seconds = time.perf_counter() - started
        targets = [(at, future.get(timeout=30)) for at, future, _ in state.sent]  # type: ignore[attr-defined]
        wanted = {}
        for _, metadata in targets:
            wanted[metadata.partition] = max(wanted.get(metadata.partition, -1), metadata.offset)
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            latest = state.seen[-1][1] if state.seen else {}
            if all(latest.get(p, -1) >= o for p, o in wanted.items()):
                break
            time.sleep(poll_interval)
    finally:
        stop.set()
        poller.join(timeout=15)
        producer.close()
    latencies: list[tuple[float, float]] = []  # (send time relative to start, latency)
    missing = 0
    for at, metadata in targets:
        answered = next(
            (t for t, offsets in state.seen if t >= at and offsets.get(metadata.partition, -1) >= metadata.offset), None
        )
        if answered is None:
            missing += 1
        else:
            latencies.append((at - started, answered - at))
    return {
        "published": published,
        "publish_rate": published / publish_seconds,
        "negatives": len(targets),
        "missing": missing,
        "latencies": latencies,
        "polls": len(state.seen),
    }


def _verify(directory: str) -> int:
    from sinks.clickhouse import connect

    url = directory if directory.startswith(("http://", "https://")) else f"chdb://{directory}"
    client = connect(url, owner="bench verify")
    tables = ("ratings", "case_events", "attributions", "case_steps", "step_observations", "dead_letters")
    counts = {table: int(client.query(f"SELECT count() FROM {table}").result_rows[0][0]) for table in tables}
    counts["rated_attributions"] = int(client.query("SELECT uniqExact(rating_id) FROM attributions").result_rows[0][0])
    client.close()
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["verify"]:
        sys.exit(_verify(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
