"""A configured ClickHouse server dies under a running worker (its port closes), then comes back.

The worker reaches ClickHouse by HTTP (HCP_CLICKHOUSE_URL=http://…), as in production. The
server process is SIGKILLed mid-stream, so an insert may be cut anywhere; while the port is
closed the worker must back off, commit nothing it has not written, and afterwards catch up
with every message stored exactly once and aggregates equal to a recomputation. The server
is the real engine behind the test-only HTTP front (tests/integration/clickhouse_http.py).
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from haochaping.settings import Settings
from producers.lag import consumer_lag
from producers.topics import ensure_topics
from tests.integration.clickhouse_endpoint import ClickHouseEndpoint
from tests.integration.conftest import WorkerProcess, free_port
from tests.integration.test_reliability_support import (
    Expected,
    PacedPublisher,
    assert_exactly_once,
    committed_offsets,
    query_stored,
    simulate,
    wait_for,
    worker_after_first_part,
)

BEFORE_OUTAGE = 3_000
OUTAGE_OBSERVED_SECONDS = 12.0


@pytest.mark.slow
def test_worker_outlives_its_clickhouse_server_and_catches_up_exactly(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    server = ClickHouseEndpoint(tmp_path / "clickhouse", free_port(), tmp_path / "clickhouse-http.log")
    server.start()
    try:
        _outage(pipeline_settings.with_changes(clickhouse_url=server.url), server, worker_factory, tmp_path)
    finally:
        server.stop()


def _outage(
    settings: Settings, server: ClickHouseEndpoint, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    lines = simulate(tmp_path, seed=3, count=20_000)
    expected = Expected.of(lines)
    ensure_topics(settings)
    worker = worker_after_first_part(settings, worker_factory, lines[:BEFORE_OUTAGE], tmp_path / "worker.log")

    # The rest arrives as a live stream; the server dies while the worker writes it.
    publishing = PacedPublisher(settings, lines[BEFORE_OUTAGE:], chunk=250, pause=0.1)
    publishing.start()
    wait_for(
        lambda: committed_offsets(settings) >= BEFORE_OUTAGE + 1_000,
        timeout=120,
        what="the worker to be part-way through the stream",
        interval=0.1,
    )
    server.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: "ClickHouse write failed" in worker.log_tail(400), timeout=120, what="a failed write")
    time.sleep(3)  # not an assertion: lets the commit of batches stored before the kill go out
    committed_during = []
    while time.monotonic() - killed_at < 3 + OUTAGE_OBSERVED_SECONDS:
        assert worker.running(), worker.log_tail()
        committed_during.append(committed_offsets(settings))
        assert consumer_lag(settings) > 0
        time.sleep(1)
    # Nothing acknowledged while nothing could be stored: the committed position is frozen.
    assert len(set(committed_during)) == 1, committed_during
    assert publishing.finish().sent == len(lines) - BEFORE_OUTAGE
    failures = worker.log_tail(100_000).count("ClickHouse write failed")

    server.start()  # same port, same data directory
    worker.wait_until_drained(timeout=600)
    assert worker.stop() == 0

    stored = query_stored(settings, expected)
    log = worker.log_tail(100_000)
    resent = sum(int(n) for n in _resent_counts(log))
    print(
        "\nserver down: "
        + json.dumps(
            {
                "committed_before_outage": BEFORE_OUTAGE,
                "committed_during_outage": committed_during[0],
                "published": len(lines),
                "failed_writes_logged": failures,
                "inserts_resent_for_views": resent,
                "after": stored.counts,
            }
        )
    )
    assert committed_during[0] < len(lines)
    assert_exactly_once(stored, expected)


def _resent_counts(log: str) -> list[str]:
    return re.findall(r"re-sent (\d+) earlier inserts", log)
