"""The broker restarts while ~20,000 events are being published: nothing is lost, nothing doubles.

The test starts a broker of its own (own port, own state folder) with infra/kafka/kafka.sh,
so the suite's shared broker is untouched; it stops and starts it while a publisher
thread sends, then runs a worker and counts what reached ClickHouse.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from haochaping.settings import Settings
from producers.topics import ensure_topics
from tests.integration.conftest import ROOT, WorkerProcess, free_port
from tests.integration.test_reliability_support import (
    Expected,
    PacedPublisher,
    assert_exactly_once,
    committed_offsets,
    end_offsets,
    query_stored,
    simulate,
    wait_for,
)

KAFKA_SH = ROOT / "infra" / "kafka" / "kafka.sh"


class OwnBroker:
    """A single-node broker that only this test uses."""

    def __init__(self, state: Path) -> None:
        self.port = _two_free_ports()
        self.state = state
        # No SASL listener (port + 2): only the client and controller ports were checked free.
        self.env = {
            **os.environ,
            "HCP_KAFKA_PORT": str(self.port),
            "HCP_KAFKA_STATE": str(state),
            "HCP_KAFKA_SASL_PORT": "0",
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run(self, command: str) -> None:
        result = subprocess.run(
            [str(KAFKA_SH), command], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, f"kafka.sh {command} failed:\n{result.stderr}"

    def answering(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


def _two_free_ports() -> int:
    """A client port whose successor (the controller port) is free too, both below the ephemeral
    range: the broker restarts on them, and an ephemeral port may meanwhile go to any client socket."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.Random().sample(range(20_000, min(low, 32_000) - 1, 2), 50):
        try:
            for candidate in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise AssertionError("no two consecutive free ports")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "kafka")
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


@pytest.mark.slow
def test_broker_restart_while_publishing_loses_nothing(
    own_broker: OwnBroker, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    unique = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap=own_broker.bootstrap,
        data_dir=tmp_path / "data",
        topic_prefix=f"t-broker-{unique}.",
        consumer_group=f"g-broker-{unique}",
        web_port=free_port(),
        pseudonym_key=b"test-pseudonym-key",
        batch_seconds=0.3,
    )
    lines = simulate(tmp_path, seed=3, count=20_000)
    expected = Expected.of(lines)
    ensure_topics(settings)

    publishing = PacedPublisher(settings, lines, chunk=250, pause=0.05)
    publishing.start()
    wait_for(lambda: publishing.published >= 4_000, timeout=120, what="the first 4,000 events to be sent")
    own_broker.run("stop")
    assert not own_broker.answering()
    sent_while_up = publishing.published
    time.sleep(2)  # the publisher keeps sending into its buffer while the broker is down
    own_broker.run("start")
    report = publishing.finish(timeout=240)
    assert sent_while_up < len(lines), "the broker restarted after publishing had finished"
    assert report.sent == len(lines)
    # The idempotent producer wrote each event once, though it retried across the restart.
    assert end_offsets(settings) == len(lines)

    # A just-started broker answers FindCoordinator with CoordinatorNotAvailable until its offsets
    # topic exists; producers.lag.consumer_lag does not retry that, so wait here until it is ready.
    assert committed_offsets(settings) == 0
    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    worker.wait_until_drained(timeout=600)
    assert worker.stop() == 0
    stored = query_stored(settings, expected)
    print(f"\nbroker restart after {sent_while_up} of {len(lines)} events: {stored.counts}")
    assert_exactly_once(stored, expected)
