"""Fixtures for tests on the real broker and the real ClickHouse engine.

`make test` starts the broker and sets HCP_KAFKA_BOOTSTRAP; without a broker these
tests fail, never skip.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from haochaping.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = os.environ.get("HCP_KAFKA_BOOTSTRAP", "")
    if not bootstrap:
        pytest.fail("HCP_KAFKA_BOOTSTRAP is not set: run the tests with `make test`, which starts a Kafka broker")
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        pytest.fail(f"no Kafka broker answers at {bootstrap}: {error}")
    return bootstrap


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pipeline_settings(tmp_path: Path, kafka_bootstrap: str, request: pytest.FixtureRequest) -> Settings:
    """Fresh topics, consumer group and embedded ClickHouse for one test."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    unique = f"{name}-{uuid.uuid4().hex[:8]}"
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        data_dir=tmp_path / "data",
        topic_prefix=f"t-{unique}.",
        consumer_group=f"g-{unique}",
        web_port=free_port(),
        pseudonym_key=b"test-pseudonym-key",
        batch_seconds=0.3,
    )


class WorkerProcess:
    """`hcp worker` as a real child process, as operators run it."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it
        self._process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def wait_until_drained(self, timeout: float = 300.0) -> None:
        from producers.lag import consumer_lag

        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"worker exited with {self._process.returncode}:\n{self.log_tail()}")
            lag = consumer_lag(self.settings)
            if lag == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"worker still {lag} messages behind after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        process = self._process
        if process is None or process.poll() is not None:
            return process.returncode if process else 0
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[type[WorkerProcess]]:
    started: list[WorkerProcess] = []

    class _Tracked(WorkerProcess):
        def start(self) -> None:
            super().start()
            started.append(self)

    yield _Tracked
    for worker in started:
        worker.stop(signal.SIGKILL)


@pytest.fixture
def shared_clickhouse(tmp_path: Path) -> Iterator[str]:
    """One ClickHouse reachable over HTTP by several processes (the real engine behind a test front); its URL."""
    from tests.integration.clickhouse_endpoint import ClickHouseEndpoint

    endpoint = ClickHouseEndpoint(tmp_path / "clickhouse", free_port(), tmp_path / "clickhouse-http.log")
    endpoint.start()
    try:
        yield endpoint.url
    finally:
        endpoint.stop()
